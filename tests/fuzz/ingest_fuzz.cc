// Fuzz target: the telemetry ingest as a vehicle reaches it (issue 10, 4.2 and 4.10). A real
// dispatch-server (DispatchServer: SQLite store, ingest, commit thread, gRPC on loopback,
// insecure-dev so the vehicle id comes from Hello) runs in this process; each input is a
// cit.v1.RecordBatch that a fresh vehicle sends after its Hello, over a Telemetry.Stream. The
// input then goes through everything the server does with agent bytes: gRPC decode, the
// oversize check, validation, de-duplication, declared gaps, the group commit, rejects, acks.
// The stream must end (the server ends it OK after the client's half-close, once the batch is
// committed); -timeout reports a batch that pins the server.
//
// Structure-aware mutation (LLVMFuzzerCustomMutator below): besides libFuzzer's byte mutations,
// whole records are copied, repeated, deleted and renumbered and single records mutated in
// place, so batches of any record count up to -max_len are reached in a few steps (byte
// mutations alone almost never keep a grown batch decodable). Seeds: make_proto_seeds.py.
//
// Run: build/fuzz/tests/fuzz/fuzz_ingest -len_control=0 -max_len=4194304 -timeout=5 DIR
// build/fuzz/tests/fuzz/seeds/proto/ingest (docs/fuzzing.md).
#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "cit/v1/telemetry.grpc.pb.h"
#include "dispatch-server/server/dispatch_server.h"
#include "spdlog/spdlog.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

// The vehicle named in seeds' records; replaced by the vehicle of the current input.
constexpr char kSeedVehicle[] = "FUZZ-1";
// Inputs per server: the database and the vehicle table grow with every input.
constexpr int kInputsPerServer = 500;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_ingest: %s\n", what.c_str());
  std::abort();
}

class Harness {
 public:
  Harness() {
    char tmpl[] = "/dev/shm/citwatch-fuzz-ingest-XXXXXX";
    char tmpl_tmp[] = "/tmp/citwatch-fuzz-ingest-XXXXXX";
    const char* dir = std::filesystem::is_directory("/dev/shm") ? mkdtemp(tmpl) : nullptr;
    if (dir == nullptr) dir = mkdtemp(tmpl_tmp);
    if (dir == nullptr) Fail("mkdtemp failed");
    dir_ = dir;
  }
  ~Harness() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Sends `input` (consumed: moved into the message, no copy of a multi-MB batch).
  void Run(cit::v1::RecordBatch* input) {
    if (!server_ || inputs_ == kInputsPerServer) Restart();
    ++inputs_;
    const std::string vehicle = "FZ-" + std::to_string(++vehicle_no_);

    grpc::ClientContext ctx;
    // Well past libFuzzer's -timeout, which is what reports a batch that pins the server.
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
    auto stream = stub_->Stream(&ctx);
    cit::v1::AgentMessage hello;
    hello.mutable_hello()->set_vehicle_id(vehicle);
    hello.mutable_hello()->set_first_unacked_seq(1);
    hello.mutable_hello()->set_agent_version("fuzz");
    cit::v1::ServerMessage reply;
    if (!stream->Write(hello) || !stream->Read(&reply) || !reply.has_welcome()) {
      Fail("no Welcome for a valid Hello: " + stream->Finish().error_message());
    }
    cit::v1::AgentMessage msg;
    msg.mutable_batch()->Swap(input);
    for (cit::v1::Record& r : *msg.mutable_batch()->mutable_records()) {
      if (r.vehicle_id() == kSeedVehicle) r.set_vehicle_id(vehicle);
    }
    // A refused write (e.g. over the 4 MiB limit) ends the stream: fine, the status says why.
    if (stream->Write(msg)) stream->WritesDone();
    while (stream->Read(&reply)) {
    }
    const grpc::Status status = stream->Finish();
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) Fail("stream never ended");
  }

 private:
  void Stop() {
    stub_.reset();
    if (server_) server_->Shutdown();
    server_.reset();
  }

  void Restart() {
    Stop();
    inputs_ = 0;
    std::error_code ec;
    std::filesystem::remove_all(dir_ / "db", ec);
    std::filesystem::create_directories(dir_ / "db");
    cit::dispatch::DispatchServerOptions o;
    o.telemetry_address = "127.0.0.1:0";
    o.operator_address = "127.0.0.1:0";
    o.metrics_address = "";
    o.insecure_dev = true;
    o.database_path = dir_ / "db" / "dispatch.db";
    o.durability = cit::dispatch::sqlite::Durability::kNormal;
    o.ingest.group_commit_delay = std::chrono::milliseconds(0);
    o.shutdown_grace = std::chrono::milliseconds(100);
    cit::dispatch::DispatchServer::Builder builder(o);
    absl::StatusOr<std::unique_ptr<cit::dispatch::DispatchServer>> server = builder.Start();
    if (!server.ok()) Fail("server did not start: " + server.status().ToString());
    server_ = std::move(*server);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    args.SetMaxReceiveMessageSize(-1);
    stub_ = cit::v1::Telemetry::NewStub(
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->telemetry_port()),
                                  grpc::InsecureChannelCredentials(), args));
  }

  std::filesystem::path dir_;
  std::unique_ptr<cit::dispatch::DispatchServer> server_;
  std::unique_ptr<cit::v1::Telemetry::Stub> stub_;
  int inputs_ = 0;
  uint64_t vehicle_no_ = 0;
};

Harness* harness = nullptr;

// ---- structure-aware mutation ---------------------------------------------------------------

// Copies records [from, from + n) `times` times to position `at`, within max_size bytes.
void RepeatRecords(cit::v1::RecordBatch& b, std::mt19937_64& rng, size_t max_size) {
  const int size = b.records_size();
  if (size == 0) return;
  const int from = static_cast<int>(rng() % size);
  const int n = 1 + static_cast<int>(rng() % (size - from));
  size_t slice_bytes = 0;
  for (int i = from; i < from + n; ++i) slice_bytes += b.records(i).ByteSizeLong() + 4;
  const size_t room = max_size > b.ByteSizeLong() ? max_size - b.ByteSizeLong() : 0;
  const size_t max_times = slice_bytes == 0 ? 0 : room / slice_bytes;
  if (max_times == 0) return;
  // Mostly small repeats, sometimes as many as fit (record counts far past any limit).
  const size_t times = rng() % 4 == 0 ? max_times : 1 + rng() % std::min<size_t>(max_times, 8);
  const cit::v1::RecordBatch copy = b;
  for (size_t t = 0; t < times; ++t) {
    for (int i = from; i < from + n; ++i) *b.add_records() = copy.records(i);
  }
}

void RenumberSeqs(cit::v1::RecordBatch& b, std::mt19937_64& rng) {
  uint64_t seq = 1 + rng() % 3;
  for (cit::v1::Record& r : *b.mutable_records()) r.set_seq(seq++);
  if (rng() % 2 == 0) b.set_covers_from_seq(1);
}

void DeleteRecords(cit::v1::RecordBatch& b, std::mt19937_64& rng) {
  const int size = b.records_size();
  if (size == 0) return;
  const int from = static_cast<int>(rng() % size);
  const int n = 1 + static_cast<int>(rng() % (size - from));
  b.mutable_records()->DeleteSubrange(from, n);
}

// libFuzzer's byte mutations on one record's encoding; kept only if it still decodes.
void MutateOneRecord(cit::v1::RecordBatch& b, std::mt19937_64& rng) {
  const int size = b.records_size();
  if (size == 0) return;
  cit::v1::Record* r = b.mutable_records(static_cast<int>(rng() % size));
  std::string bytes = r->SerializeAsString();
  const size_t cap = bytes.size() * 2 + 64;
  bytes.resize(cap);
  bytes.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(bytes.data()), r->ByteSizeLong(), cap));
  cit::v1::Record mutated;
  if (mutated.ParseFromString(bytes)) *r = std::move(mutated);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The server's per-batch logging would drown libFuzzer's output.
  spdlog::set_level(spdlog::level::off);
  harness = new Harness();  // lives until exit: libFuzzer may exit from any input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cit::v1::RecordBatch batch;
  if (size > static_cast<size_t>(INT32_MAX) || !batch.ParseFromArray(data, static_cast<int>(size)))
    return -1;  // not a batch: keep it out of the corpus (the `record` target fuzzes decoding)
  harness->Run(&batch);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  std::mt19937_64 rng(seed);
  cit::v1::RecordBatch b;
  const unsigned op = static_cast<unsigned>(rng() % 8);
  if (op < 3 || !b.ParseFromArray(data, static_cast<int>(size))) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  switch (op) {
    case 3:
    case 4:
      RepeatRecords(b, rng, max_size);
      break;
    case 5:
      RenumberSeqs(b, rng);
      break;
    case 6:
      DeleteRecords(b, rng);
      break;
    default:
      MutateOneRecord(b, rng);
      break;
  }
  const std::string out = b.SerializeAsString();
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
