// A notification channel: one attempt to hand one notification to its receiver.
// Implementations: webhook_channel.h, email_channel.h, exec_channel.h.
//
// Thread contract: Deliver is called from the delivery worker thread only.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_CHANNEL_H_
#define CIT_DISPATCH_SERVER_NOTIFY_CHANNEL_H_

#include <string>

#include "dispatch-server/notify/outbox.h"

namespace cit::dispatch {

struct DeliveryResult {
  bool delivered = false;
  // What happened, for the log and the outbox's last_error ("HTTP 503", "exit status 1").
  std::string detail;
};

class Channel {
 public:
  virtual ~Channel() = default;
  virtual DeliveryResult Deliver(const Notification& n) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_CHANNEL_H_
