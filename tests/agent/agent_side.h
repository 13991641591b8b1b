// The agent's side of the uplink in a test: io thread, journal, recorder and uplink wired as
// vehicle-agent's Agent wires them, with calls that run on the io thread.
//
//   AgentSide agent(dir, uplink_config);
//   agent.AddFixes(50);
//   test::WaitFor([&] { return agent.AckedThrough() == 50; });
//
// Thread contract: the methods may be called from any one test thread.
#ifndef CIT_TESTS_AGENT_AGENT_SIDE_H_
#define CIT_TESTS_AGENT_AGENT_SIDE_H_

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <memory>
#include <thread>

#include "vehicle-agent/journal.h"
#include "vehicle-agent/recorder.h"
#include "vehicle-agent/uplink.h"

namespace cit::agent {

// The agent side: io thread + journal + recorder + uplink, as Agent wires them.
class AgentSide {
 public:
  AgentSide(const std::filesystem::path& dir, AgentConfig::Uplink cfg)
      : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {
    JournalOptions jo;
    jo.dir = dir;
    journal_ = std::move(*Journal::Open(jo));
    recorder_ = std::make_unique<Recorder>(io_, *journal_, "truck-7", FsyncPolicy::kInterval,
                                           std::chrono::milliseconds(200));
    uplink_ = std::make_unique<Uplink>(io_, cfg, "truck-7", *journal_);
    recorder_->OnDurable([this] { uplink_->Pump(); });
    recorder_->OnUrgent([this](const cit::v1::Record& r) { uplink_->Urgent(r); });
    start_status_ = Run([this] { return uplink_->Start(); });
  }
  ~AgentSide() {
    Run([this] {
      uplink_->Shutdown();
      return 0;
    });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  AgentSide(const AgentSide&) = delete;
  AgentSide& operator=(const AgentSide&) = delete;

  template <typename F>
  auto Run(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }
  void AddFixes(int n) {
    Run([&] {
      for (int i = 0; i < n; ++i) {
        cit::v1::Record r;
        r.mutable_fix()->set_lat_deg(48.0 + i * 1e-5);
        r.mutable_fix()->set_lon_deg(11.5);
        r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
        EXPECT_TRUE(recorder_->Add(std::move(r)).ok());
      }
      return 0;
    });
  }
  // Records the record as the agent's recorder does (event time kept when set); its seq.
  uint64_t Add(cit::v1::Record r) {
    return Run([&] {
      absl::StatusOr<uint64_t> seq = recorder_->Add(std::move(r));
      EXPECT_TRUE(seq.ok()) << seq.status();
      return seq.ok() ? *seq : uint64_t{0};
    });
  }
  uint64_t AddPanic() {
    return Run([&] {
      cit::v1::Record r;
      r.mutable_panic()->set_source("test");
      return *recorder_->Add(std::move(r));
    });
  }
  uint64_t AckedThrough() {
    return Run([&] { return journal_->acked_through(); });
  }
  UplinkStats Stats() {
    return Run([&] { return uplink_->stats(); });
  }
  const absl::Status& start_status() const { return start_status_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<Uplink> uplink_;
  absl::Status start_status_;
};

}  // namespace cit::agent

#endif  // CIT_TESTS_AGENT_AGENT_SIDE_H_
