// E-mail channel: one message per notification over SMTP (libcurl). With smtp:// and
// starttls = true (the default) the connection must upgrade with STARTTLS or nothing is sent;
// smtps:// is TLS from the start. The message carries the idempotency key as its Message-ID
// (<key@citwatch>) and in X-Citwatch-Idempotency-Key; the body is the summary line and the JSON
// payload. A 250 after the data is delivered; anything else is retried by the worker.
//
// Thread contract: Deliver from one thread at a time.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_EMAIL_CHANNEL_H_
#define CIT_DISPATCH_SERVER_NOTIFY_EMAIL_CHANNEL_H_

#include <string>

#include "dispatch-server/notify/channel.h"
#include "dispatch-server/notify/notify_config.h"

namespace cit::dispatch {

class EmailChannel final : public Channel {
 public:
  // `password`: the contents of target.password_file ("" without one).
  EmailChannel(NotifyTarget target, std::string password)
      : target_(std::move(target)), password_(std::move(password)) {}
  DeliveryResult Deliver(const Notification& n) override;

  // The RFC 5322 message for `n` (CRLF line ends; dot-stuffing is libcurl's).
  static std::string Message(const NotifyTarget& target, const Notification& n);

 private:
  NotifyTarget target_;
  std::string password_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_EMAIL_CHANNEL_H_
