#include "dispatch-server/notify/email_channel.h"

#include <curl/curl.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cit::dispatch {
namespace {

struct Reader {
  std::string_view rest;
};

size_t ReadMessage(char* buffer, size_t size, size_t n, void* user) {
  auto* r = static_cast<Reader*>(user);
  const size_t len = std::min(size * n, r->rest.size());
  std::memcpy(buffer, r->rest.data(), len);
  r->rest.remove_prefix(len);
  return len;
}

// A header value never carries a line break from the data (header injection).
std::string HeaderSafe(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

}  // namespace

std::string EmailChannel::Message(const NotifyTarget& target, const Notification& n) {
  nlohmann::json body = nlohmann::json::parse(n.body, nullptr, false);
  const std::string summary =
      body.is_object() && body.contains("summary") ? body["summary"].get<std::string>() : n.key;
  const std::string comment =
      body.is_object() && body.contains("comment") ? body["comment"].get<std::string>() : "";
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string text = absl::StrCat(
      "Date: ", date, "\r\nFrom: ", HeaderSafe(target.from),
      "\r\nTo: ", HeaderSafe(absl::StrJoin(target.to, ", ")),
      "\r\nSubject: citwatch: ", HeaderSafe(summary), "\r\nMessage-ID: <", HeaderSafe(n.key),
      "@citwatch>", "\r\nX-Citwatch-Idempotency-Key: ", HeaderSafe(n.key),
      "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", summary, "\r\n",
      comment, "\r\n\r\n", n.body, "\r\n");
  return text;
}

DeliveryResult EmailChannel::Deliver(const Notification& n) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return {false, "curl_easy_init failed"};
  CURL* c = curl.get();
  const std::string message = Message(target_, n);
  Reader reader{message};
  curl_slist* rcpt = nullptr;
  for (const std::string& to : target_.to) rcpt = curl_slist_append(rcpt, to.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt_guard(rcpt,
                                                                         &curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_URL, target_.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  if (target_.starttls) curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!target_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, target_.ca_file.c_str());
  if (!target_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, target_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
  }
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, target_.from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, &ReadMessage);
  curl_easy_setopt(c, CURLOPT_READDATA, &reader);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(target_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return {false, absl::StrCat(curl_easy_strerror(rc), error[0] ? ": " : "", error)};
  }
  return {true, absl::StrCat("accepted for ", target_.to.size(), " recipient(s)")};
}

}  // namespace cit::dispatch
