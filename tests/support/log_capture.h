// Captures spdlog output of the default logger for a test: every formatted line in memory.
//
//   test::LogCapture log;                     // replaces the default logger's sinks
//   ...                                       // code under test logs
//   EXPECT_EQ(log.CountContaining("event=operator_call_refused"), 10u);
//                                             // the old logger is restored on destruction
//
// Thread contract: lines may be logged from any thread; read them after the code under test
// is quiet (or accept a snapshot).
#ifndef CIT_TESTS_SUPPORT_LOG_CAPTURE_H_
#define CIT_TESTS_SUPPORT_LOG_CAPTURE_H_

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cit::test {

class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<Sink>()), previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::trace);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> Lines() const { return sink_->Lines(); }
  size_t CountContaining(std::string_view needle) const {
    size_t n = 0;
    for (const std::string& l : Lines()) n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  class Sink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<std::string> Lines() {
      std::lock_guard<std::mutex> lock(this->mutex_);
      return lines_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      spdlog::memory_buf_t out;
      this->formatter_->format(msg, out);
      lines_.emplace_back(out.data(), out.size());
    }
    void flush_() override {}

   private:
    std::vector<std::string> lines_;  // guarded by the base class's mutex_
  };

  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace cit::test

#endif  // CIT_TESTS_SUPPORT_LOG_CAPTURE_H_
