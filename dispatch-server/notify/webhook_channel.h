// Webhook channel: POST of the JSON payload to the target's URL (libcurl), signed with
// HMAC-SHA256 (signature.h) and carrying the idempotency key as a header. A 2xx answer is
// delivered; anything else (refused connection, timeout, 4xx, 5xx) is retried by the worker.
//
// Thread contract: Deliver from one thread at a time.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_WEBHOOK_CHANNEL_H_
#define CIT_DISPATCH_SERVER_NOTIFY_WEBHOOK_CHANNEL_H_

#include <chrono>
#include <string>

#include "dispatch-server/notify/channel.h"

namespace cit::dispatch {

class WebhookChannel final : public Channel {
 public:
  WebhookChannel(std::string url, std::string secret, std::chrono::milliseconds timeout)
      : url_(std::move(url)), secret_(std::move(secret)), timeout_(timeout) {}
  DeliveryResult Deliver(const Notification& n) override;

 private:
  std::string url_;
  std::string secret_;
  std::chrono::milliseconds timeout_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_WEBHOOK_CHANNEL_H_
