#include "dispatch-server/notify/webhook_channel.h"

#include <curl/curl.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "dispatch-server/notify/signature.h"

namespace cit::dispatch {
namespace {

// The answer's body is not used; reading it keeps the connection well-behaved.
size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

DeliveryResult WebhookChannel::Deliver(const Notification& n) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return {false, "curl_easy_init failed"};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(
      headers, absl::StrCat(kSignatureHeader, ": ", SignBody(secret_, n.body)).c_str());
  headers = curl_slist_append(headers, absl::StrCat(kIdempotencyHeader, ": ", n.key).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers,
                                                                           &curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, n.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(n.body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM (threads)
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Discard);
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return {false, absl::StrCat(curl_easy_strerror(rc), error[0] ? ": " : "", error)};
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return {status >= 200 && status < 300, absl::StrCat("HTTP ", status)};
}

}  // namespace cit::dispatch
