// Exec hook channel, for anything else (SMS gateways, paging systems): runs the configured
// program directly (posix_spawn of argv, never through a shell) with the JSON payload on stdin
// and the environment variable CITWATCH_IDEMPOTENCY_KEY; exit status 0 is delivered, any other
// status, a signal or running past the timeout (then it is killed) is retried by the worker.
// Its stdout and stderr go to the server's stderr.
//
// Thread contract: Deliver from one thread at a time.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_EXEC_CHANNEL_H_
#define CIT_DISPATCH_SERVER_NOTIFY_EXEC_CHANNEL_H_

#include <chrono>
#include <string>
#include <vector>

#include "dispatch-server/notify/channel.h"

namespace cit::dispatch {

class ExecChannel final : public Channel {
 public:
  ExecChannel(std::vector<std::string> argv, std::chrono::milliseconds timeout)
      : argv_(std::move(argv)), timeout_(timeout) {}
  DeliveryResult Deliver(const Notification& n) override;

 private:
  std::vector<std::string> argv_;
  std::chrono::milliseconds timeout_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_EXEC_CHANNEL_H_
