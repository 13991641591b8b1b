// The global in-flight budget (issue 16 §1) end to end: a reconnect storm of agents with
// backlogs against a server with a small budget, over real gRPC on loopback and a real SQLite
// file. In flight never exceeds the budget, every record is stored exactly once, a live
// truck's panic reaches the monitor while the storm is held back, operator calls are served.
// The storm at fleet scale (RSS) is a benchmark: bench/storm.sh, docs/benchmarks.md.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "dispatch-server/server/dispatch_server.h"
#include "tests/dispatch/telemetry_test_client.h"
#include "tests/support/postgres_server.h"

namespace cit::dispatch {
namespace {

using test::MakeFix;

constexpr size_t kMaxInflightRecords = 2'000;
constexpr size_t kReserveRecords = 100;
constexpr uint32_t kBatch = 250;
constexpr size_t kMaxCommitRecords = 1'000;

// The monitor's view: every record handed over at receipt, with the time it arrived.
class RecordingObserver final : public RecordObserver {
 public:
  void OnAccepted(std::span<const CommittedRecord> batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const CommittedRecord& r : batch) {
      if (r.record.has_panic()) panics_.insert(r.vehicle_id);
    }
  }
  bool SawPanic(const std::string& vehicle) {
    std::lock_guard<std::mutex> lock(mu_);
    return panics_.count(vehicle) != 0;
  }

 private:
  std::mutex mu_;
  std::set<std::string> panics_;
};

// An agent reconnecting with a backlog: Hello declaring it, then every batch as fast as
// HTTP/2 flow control lets the writes through, then reading acks until all are covered.
grpc::Status RunBacklogAgent(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& vehicle, uint64_t backlog) {
  auto stub = cit::v1::Telemetry::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto rw = stub->Stream(&ctx);
  cit::v1::AgentMessage hello;
  hello.mutable_hello()->set_vehicle_id(vehicle);
  hello.mutable_hello()->set_first_unacked_seq(1);
  hello.mutable_hello()->set_backlog_records(backlog);
  cit::v1::ServerMessage in;
  if (!rw->Write(hello) || !rw->Read(&in) || !in.has_welcome()) return rw->Finish();
  for (uint64_t first = 1; first <= backlog; first += kBatch) {
    cit::v1::AgentMessage m;
    for (uint64_t s = first; s < first + kBatch && s <= backlog; ++s) {
      *m.mutable_batch()->add_records() = MakeFix(s);
    }
    if (!rw->Write(m)) return rw->Finish();
  }
  uint64_t acked = 0;
  while (acked < backlog && rw->Read(&in)) {
    if (in.has_ack()) acked = std::max(acked, in.ack().through_seq());
  }
  rw->WritesDone();
  grpc::Status st = rw->Finish();
  if (st.ok() && acked < backlog) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS, vehicle + " not fully acknowledged");
  }
  return st;
}

// On both store backends (issue 15): SQLite in the temp dir, and a fresh database of the
// process's own PostgreSQL (tests/support/postgres_server.h).
class IngestBudgetTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    DispatchServerOptions o;
    if (GetParam() == "postgresql") {
      cit::test::PostgresServer* pg = cit::test::SharedPostgres();
      ASSERT_NE(pg, nullptr);
      absl::StatusOr<std::string> db = pg->CreateDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      o.store_backend = DispatchServerOptions::StoreBackend::kPostgresql;
      o.postgres_connection = *db;
    }
    o.telemetry_address = "127.0.0.1:0";
    o.operator_address = "127.0.0.1:0";
    o.metrics_address = "";
    o.insecure_dev = true;  // identity from Hello: many vehicles without a certificate each
    o.database_path = dir_ / "dispatch.db";
    o.ingest.max_batch_records = kBatch;
    o.ingest.budget.max_records = kMaxInflightRecords;
    o.ingest.budget.max_bytes = 8 << 20;  // records are the binding limit here
    o.ingest.budget.reserve_records = kReserveRecords;
    o.ingest.max_commit_records = kMaxCommitRecords;
    o.shutdown_grace = std::chrono::seconds(2);
    DispatchServer::Builder b(o);
    b.AddObserver(&observer_);
    auto server = b.Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // One connection per vehicle, as in the field (a shared HTTP/2 connection would couple the
  // vehicles' flow control).
  std::shared_ptr<grpc::Channel> VehicleChannel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->telemetry_port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

  // grpc.health.v1.Health/Check on the operator port (generic stub: no generated headers).
  grpc::Status OperatorHealthCheck() {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->operator_port()),
                                       grpc::InsecureChannelCredentials());
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice empty("", 0);
    grpc::ByteBuffer request(&empty, 1), response;
    auto call = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
    call->StartCall();
    grpc::Status st;
    call->Finish(&response, &st, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) return grpc::Status(grpc::StatusCode::INTERNAL, "queue shut down");
    return st;
  }

  test::TempDir dir_;
  RecordingObserver observer_;
  std::unique_ptr<DispatchServer> server_;
};

INSTANTIATE_TEST_SUITE_P(Backends, IngestBudgetTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(IngestBudgetTest, ReconnectStormStaysInBudgetStoresExactlyOnceAndLetsAPanicThrough) {
  constexpr int kVehicles = 24;
  constexpr uint64_t kBacklog = 3'000;  // 72,000 records: 36x the budget

  // A live truck, connected before the storm, sending one fix at a time.
  test::TelemetryTestClient live(VehicleChannel());
  ASSERT_EQ(live.Hello("LIVE-1", 1), 0);
  cit::v1::RecordBatch fix;
  *fix.add_records() = MakeFix(1);
  ASSERT_TRUE(live.Send(fix));
  ASSERT_TRUE(live.WaitAck(1));

  std::vector<grpc::Status> results(kVehicles);
  std::vector<std::thread> agents;
  for (int i = 0; i < kVehicles; ++i) {
    agents.emplace_back([this, i, &results] {
      results[i] = RunBacklogAgent(VehicleChannel(), "STORM-" + std::to_string(i), kBacklog);
    });
  }

  // Once the budget holds streams back, the live truck panics.
  ASSERT_TRUE(test::WaitFor([&] { return server_->ingest().BudgetSnapshot().waiting > 0; },
                            std::chrono::seconds(60)))
      << "the storm never engaged the budget";
  const uint64_t stored_at_panic =
      *server_->store().CountRecords("STORM-0") +
      *server_->store().CountRecords("STORM-" + std::to_string(kVehicles - 1));
  cit::v1::Record panic = MakeFix(2);
  panic.clear_fix();
  panic.mutable_panic()->set_source("test:storm");
  cit::v1::RecordBatch urgent;
  *urgent.add_records() = panic;
  ASSERT_TRUE(live.SendUrgent(urgent));
  ASSERT_TRUE(test::WaitFor([&] { return observer_.SawPanic("LIVE-1"); }, std::chrono::seconds(60)))
      << "the panic did not reach the monitor during the storm";
  ASSERT_TRUE(live.WaitAck(2));
  // Operator calls are served during the storm.
  EXPECT_TRUE(OperatorHealthCheck().ok());

  for (std::thread& t : agents) t.join();
  for (int i = 0; i < kVehicles; ++i)
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].error_message();
  EXPECT_LT(stored_at_panic, 2 * kBacklog) << "the storm was over before the panic: no test";

  // Exactly once: every seq of every vehicle, once, in order.
  for (int i = 0; i < kVehicles; ++i) {
    const std::string v = "STORM-" + std::to_string(i);
    ASSERT_EQ(*server_->store().CountRecords(v), kBacklog) << v;
    auto recs = server_->store().ReadBySeq(v, 1, kBacklog + 10);
    ASSERT_TRUE(recs.ok());
    ASSERT_EQ(recs->size(), kBacklog);
    for (size_t k = 0; k < recs->size(); ++k) ASSERT_EQ((*recs)[k].record.seq(), k + 1) << v;
  }
  MetricsRegistry& m = server_->metrics();
  EXPECT_EQ(m.GetCounter("cit_ingest_records_stored_total", "").value(), kVehicles * kBacklog + 2);
  EXPECT_EQ(m.GetCounter("cit_ingest_duplicates_total", "").value(), 0u);

  // In flight never exceeded the budget (plus the live trucks' reserve): every agent declared
  // its backlog in Hello, so no read brought more than it was admitted with.
  const BudgetStats stats = server_->ingest().BudgetSnapshot();
  EXPECT_LE(stats.peak_records, kMaxInflightRecords + kReserveRecords);
  EXPECT_GE(stats.peak_records, kMaxInflightRecords / 2) << "the budget was not used";
  EXPECT_GT(stats.waits, 0u);
  EXPECT_EQ(stats.records, 0u);
  EXPECT_EQ(stats.waiting, 0u);
  EXPECT_GT(m.GetCounter("cit_ingest_budget_waits_total", "").value(), 0u);

  // No group commit above the cap: every commit fits the histogram buckets up to 1,024.
  const Histogram& commits =
      m.GetHistogram("cit_ingest_commit_batch_records", "", Histogram::ExponentialBounds(1, 4, 8));
  for (size_t b = 0; b <= commits.bounds().size(); ++b) {
    if (b < commits.bounds().size() && commits.bounds()[b] <= 1024) continue;
    EXPECT_EQ(commits.bucket(b), 0u) << "commits above " << kMaxCommitRecords << " records";
  }
  EXPECT_TRUE(live.Close().ok());
}

}  // namespace
}  // namespace cit::dispatch
