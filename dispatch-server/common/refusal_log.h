// Rate-limited, aggregated warnings for refused calls (wrong token, foreign certificate, ...):
// an unauthenticated client must not be able to flood the log. Per reason, the first `burst`
// refusals of each interval are logged in full; the rest are only counted, and one summary line
// reports them when the interval is over:
//   event=refusals_suppressed component=operator_auth reason=unknown_token count=1990
//   interval_s=60 note="suppressed 1990 refusals of reason unknown_token in the last 60 s"
// The summary is written with the next refusal of that reason after the interval, or by the
// log's timer (every flush_period it writes the summaries of intervals that are over, so a burst
// that stops is still reported), or by Flush() / the destructor; exact counts belong in metrics,
// which callers keep beside this.
//
//   RefusalLog log("operator_auth");
//   if (log.Admit("unknown_token")) spdlog::warn("event=call_refused reason=unknown_token ...");
//
// Thread contract: thread-safe (one mutex; Admit is a map lookup and a comparison). The timer
// is the log's own thread, joined by the destructor.
#ifndef CIT_DISPATCH_COMMON_REFUSAL_LOG_H_
#define CIT_DISPATCH_COMMON_REFUSAL_LOG_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace cit::dispatch {

struct RefusalLogOptions {
  // Full lines per reason and interval.
  uint32_t burst = 10;
  std::chrono::seconds interval{60};
  // How often the timer thread looks for finished intervals to summarise; zero: no timer (the
  // summary waits for the next refusal, FlushExpired or Flush).
  std::chrono::milliseconds flush_period{5'000};
};

class RefusalLog {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit RefusalLog(std::string component, RefusalLogOptions options = {},
                      Clock clock = std::chrono::steady_clock::now);
  ~RefusalLog();
  RefusalLog(const RefusalLog&) = delete;
  RefusalLog& operator=(const RefusalLog&) = delete;
  RefusalLog(RefusalLog&&) = delete;
  RefusalLog& operator=(RefusalLog&&) = delete;

  // True when the caller should log this refusal in full; false when it is only counted for
  // the interval's summary line. May first write the summary of the previous interval.
  bool Admit(std::string_view reason);
  // Writes the summary line of every reason with suppressed refusals, and starts new intervals.
  void Flush();
  // The same for the reasons whose interval is over (what the timer calls).
  void FlushExpired();

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    uint64_t logged = 0;
    uint64_t suppressed = 0;
  };
  void Summarise(std::string_view reason, const Window& w) const;

  const std::string component_;
  const RefusalLogOptions options_;
  const Clock clock_;
  std::mutex mu_;
  std::map<std::string, Window, std::less<>> windows_;  // guarded by mu_; one per reason
  std::condition_variable timer_cv_;                    // with mu_
  bool stopping_ = false;                               // guarded by mu_
  std::thread timer_;                                   // FlushExpired every flush_period
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_COMMON_REFUSAL_LOG_H_
