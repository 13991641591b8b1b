// Telemetry ingest cost per record for one large RecordBatch, end to end in process: real gRPC
// over loopback (plaintext, --insecure-dev), validation, de-duplication, group commit into a
// real SQLite file, ack. The limits are raised so that 100,000 records are accepted; the cost
// per record must not grow with the batch (it used to be quadratic: ByteSizeLong() per record,
// ~160 s for 100,000 records).
//
//   build/ci/bench/ingest_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "cit/v1/telemetry.grpc.pb.h"
#include "dispatch-server/server/dispatch_server.h"

namespace {

cit::v1::AgentMessage Batch(uint64_t first, uint64_t count) {
  cit::v1::AgentMessage m;
  for (uint64_t s = first; s < first + count; ++s) {
    cit::v1::Record* r = m.mutable_batch()->add_records();
    r->set_seq(s);
    r->mutable_event_time()->set_seconds(1'700'000'000);
    r->mutable_heartbeat();
  }
  return m;
}

void BM_IngestOneLargeBatch(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cit-ingest-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    cit::dispatch::DispatchServerOptions o;
    o.telemetry_address = "127.0.0.1:0";
    o.operator_address = "127.0.0.1:0";
    o.metrics_address = "";
    o.insecure_dev = true;
    o.database_path = dir / "bench.db";
    o.durability = cit::dispatch::sqlite::Durability::kNormal;
    o.ingest.max_batch_records = 100'000;
    o.ingest.max_batch_bytes = 4 << 20;
    auto server = cit::dispatch::DispatchServer::Builder(o).Start();
    if (!server.ok()) {
      state.SkipWithError(server.status().ToString().c_str());
      return;
    }
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->telemetry_port()),
                                       grpc::InsecureChannelCredentials());
    auto stub = cit::v1::Telemetry::NewStub(channel);
    int vehicle = 0;
    for (auto _ : state) {
      state.PauseTiming();
      grpc::ClientContext ctx;
      auto rw = stub->Stream(&ctx);
      cit::v1::AgentMessage hello;
      hello.mutable_hello()->set_vehicle_id("BENCH-" + std::to_string(++vehicle));
      hello.mutable_hello()->set_first_unacked_seq(1);
      cit::v1::ServerMessage reply;
      if (!rw->Write(hello) || !rw->Read(&reply)) {
        state.SkipWithError("no Welcome");
        break;
      }
      const cit::v1::AgentMessage batch = Batch(1, n);
      state.ResumeTiming();
      rw->Write(batch);
      uint64_t acked = 0;
      while (acked < n && rw->Read(&reply)) acked = std::max(acked, reply.ack().through_seq());
      state.PauseTiming();
      if (acked < n) state.SkipWithError(rw->Finish().error_message().c_str());
      rw->WritesDone();
      while (rw->Read(&reply)) {
      }
      (void)rw->Finish();
      state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
    (*server)->Shutdown();
  }
  std::filesystem::remove_all(dir);
}
// Arg: records in the one batch. items_per_second should not fall as the batch grows.
BENCHMARK(BM_IngestOneLargeBatch)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
