// StreamExport, StreamTrack and the paged GetTrack on a real gRPC server over loopback with a
// real store, on both backends (Backends/ExportStreamTest.<case>/sqlite and /postgresql): a 4 h
// run at 1 Hz in SQLite or in a fresh PostgreSQL database. Cancellation frees the server's stream,
// the stream cap answers RESOURCE_EXHAUSTED, records committed during an export do not change it,
// page tokens are checked.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/audit/audit_service.h"
#include "dispatch-server/audit/store_audit_source.h"
#include "dispatch-server/audit/track_page_token.h"
#include "tests/ctl/long_run.h"
#include "tests/ctl/scenario.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

namespace sc = cit::test::scenario;

constexpr int kSeconds = 4 * 3600;
constexpr int kMaxStreams = 2;

cit::v1::Run LongRun() {
  cit::v1::Run run = sc::MakeRun();
  *run.mutable_ended_time() = cit::test::Plus(sc::Start(), kSeconds + 60);
  return run;
}

class ExportStreamTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto store = db_.OpenRecordStore();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    records_ = cit::test::LongRunRecords(sc::Start(), kSeconds);
    Append(records_);
    service_ = std::make_unique<AuditService>(
        std::make_shared<StoreAuditSource>(
            *store_,
            [](const std::string& id) -> absl::StatusOr<cit::v1::Run> {
              if (id != sc::kRun) return absl::NotFoundError("no run " + id);
              return LongRun();
            },
            nullptr),
        nullptr, kMaxStreams);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    // A fixed, small receive window: without it gRPC's bandwidth probe grows the window on
    // loopback until a whole export fits in it, the server finishes an export nobody reads and
    // frees its slot, and the cap test below has nothing to hold the slots.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
    stub_ = cit::v1::Audit::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  void Append(const std::vector<cit::v1::Record>& records) {
    AppendBatch batch;
    for (const auto& r : records) {
      batch.records.push_back(CommittedRecord{sc::kVehicle, r, std::chrono::system_clock::now()});
    }
    ASSERT_TRUE(store_->Append(batch).ok());
  }

  std::unique_ptr<grpc::ClientReader<cit::v1::ExportRunResponse>> StartExport(
      grpc::ClientContext& ctx, cit::v1::ExportFormat format) {
    // A stuck export fails the test instead of hanging it (Finish waits for the server).
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    cit::v1::ExportRunRequest req;
    req.set_run_id(sc::kRun);
    req.set_format(format);
    return stub_->StreamExport(&ctx, req);
  }

  // The rest of an export, after `so_far`.
  std::string ReadToEnd(grpc::ClientReader<cit::v1::ExportRunResponse>& reader,
                        std::string so_far = {}) {
    cit::v1::ExportRunResponse part;
    while (reader.Read(&part)) so_far += part.content();
    grpc::Status s = reader.Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return so_far;
  }

  bool WaitForNoStreams() {
    return cit::test::WaitFor([&] { return service_->active_streams() == 0; },
                              std::chrono::seconds(20));
  }

  test::BackendDb db_{GetParam()};
  std::unique_ptr<Store> store_;
  std::vector<cit::v1::Record> records_;
  std::unique_ptr<AuditService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<cit::v1::Audit::Stub> stub_;
};

TEST_P(ExportStreamTest, PartsAreBoundedAndTheFirstNamesTheDocument) {
  grpc::ClientContext ctx;
  auto reader = StartExport(ctx, cit::v1::EXPORT_FORMAT_CSV);
  cit::v1::ExportRunResponse part;
  ASSERT_TRUE(reader->Read(&part));
  EXPECT_EQ(part.media_type(), "text/csv");
  EXPECT_EQ(part.suggested_file_name(), std::string(sc::kRun) + ".csv");
  std::size_t parts = 1;
  std::size_t bytes = part.content().size();
  EXPECT_LE(part.content().size(), 1u << 20);
  while (reader->Read(&part)) {
    ++parts;
    bytes += part.content().size();
    EXPECT_LE(part.content().size(), 1u << 20);
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GT(parts, 2u);
  EXPECT_GT(bytes, 2u << 20);
}

TEST_P(ExportStreamTest, AClientThatCancelsMidStreamFreesTheServersStream) {
  {
    grpc::ClientContext ctx;
    auto reader = StartExport(ctx, cit::v1::EXPORT_FORMAT_GEOJSON);
    cit::v1::ExportRunResponse part;
    ASSERT_TRUE(reader->Read(&part));
    EXPECT_EQ(service_->active_streams(), 1);
    ctx.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  EXPECT_TRUE(WaitForNoStreams());
  // The same holds for a client that simply goes away (its context destroyed mid-read).
  {
    grpc::ClientContext ctx;
    cit::v1::GetTrackRequest req;
    req.set_run_id(sc::kRun);
    auto reader = stub_->StreamTrack(&ctx, req);
    cit::v1::GetTrackResponse page;
    ASSERT_TRUE(reader->Read(&page));
    EXPECT_GT(page.records_size(), 0);
    EXPECT_LT(page.ByteSizeLong(), (1u << 20) * 11 / 10);  // ~1 MiB of records + framing
    ctx.TryCancel();
    reader->Finish();
  }
  EXPECT_TRUE(WaitForNoStreams());
  grpc::ClientContext ctx;
  auto reader = StartExport(ctx, cit::v1::EXPORT_FORMAT_CSV);
  const std::string csv = ReadToEnd(*reader);
  EXPECT_EQ(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')),
            records_.size() + 1);
}

TEST_P(ExportStreamTest, MoreStreamsThanTheCapAreRefusedWithAdvice) {
  // Two exports that are not read on: each holds its stream (flow control stops the server).
  grpc::ClientContext c1, c2;
  auto r1 = StartExport(c1, cit::v1::EXPORT_FORMAT_GEOJSON);
  auto r2 = StartExport(c2, cit::v1::EXPORT_FORMAT_GPX);
  cit::v1::ExportRunResponse part;
  ASSERT_TRUE(r1->Read(&part));
  ASSERT_TRUE(r2->Read(&part));
  EXPECT_EQ(service_->active_streams(), kMaxStreams);
  grpc::ClientContext c3;
  auto r3 = StartExport(c3, cit::v1::EXPORT_FORMAT_CSV);
  EXPECT_FALSE(r3->Read(&part));
  grpc::Status refused = r3->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("retry"), std::string::npos) << refused.error_message();
  c1.TryCancel();
  c2.TryCancel();
  r1->Finish();
  r2->Finish();
  ASSERT_TRUE(WaitForNoStreams());
  grpc::ClientContext c4;
  auto r4 = StartExport(c4, cit::v1::EXPORT_FORMAT_CSV);
  EXPECT_FALSE(ReadToEnd(*r4).empty());
}

TEST_P(ExportStreamTest, RecordsCommittedDuringAnExportDoNotChangeIt) {
  grpc::ClientContext ctx;
  auto reader = StartExport(ctx, cit::v1::EXPORT_FORMAT_GEOJSON);
  cit::v1::ExportRunResponse part;
  ASSERT_TRUE(reader->Read(&part));
  // A backlog arrives meanwhile: fixes whose times fall inside the run, between stored ones.
  std::vector<cit::v1::Record> late;
  for (int i = 0; i < 3000; ++i) {
    late.push_back(cit::test::FixRecord(sc::kVehicle, records_.size() + 1 + i,
                                        cit::test::Plus(sc::Start(), i + 0.25), sc::kLat,
                                        sc::kLon0));
  }
  Append(late);
  const nlohmann::json doc = nlohmann::json::parse(ReadToEnd(*reader, part.content()));
  const nlohmann::json& track = doc["features"][0];
  ASSERT_EQ(track["properties"]["kind"], "track");
  const std::size_t fixes = cit::test::LongRunCountsFor(kSeconds).fixes;
  // Every pass (coordinates, times, seqs) saw the records as they were when the export began.
  EXPECT_EQ(track["geometry"]["coordinates"].size(), fixes);
  EXPECT_EQ(track["properties"]["times"].size(), fixes);
  EXPECT_EQ(track["properties"]["seqs"].size(), fixes);
  EXPECT_EQ(track["properties"]["fixes"], fixes);
  // A new export includes them, in event-time order.
  grpc::ClientContext again;
  auto next = StartExport(again, cit::v1::EXPORT_FORMAT_GEOJSON);
  const nlohmann::json doc2 = nlohmann::json::parse(ReadToEnd(*next));
  EXPECT_EQ(doc2["features"][0]["properties"]["times"].size(), fixes + late.size());
  EXPECT_EQ(doc2["features"][0]["properties"]["seqs"][1], records_.size() + 1);
}

TEST_P(ExportStreamTest, GetTrackPagesMatchTheStreamAndBadTokensAreRefused) {
  std::vector<uint64_t> streamed;
  {
    grpc::ClientContext ctx;
    cit::v1::GetTrackRequest req;
    req.set_run_id(sc::kRun);
    auto reader = stub_->StreamTrack(&ctx, req);
    cit::v1::GetTrackResponse page;
    while (reader->Read(&page)) {
      for (const auto& r : page.records()) streamed.push_back(r.record().seq());
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  ASSERT_EQ(streamed.size(), records_.size());
  std::vector<uint64_t> paged;
  std::string token;
  do {
    grpc::ClientContext ctx;
    cit::v1::GetTrackRequest req;
    req.set_run_id(sc::kRun);
    req.set_page_size(777);
    req.set_page_token(token);
    cit::v1::GetTrackResponse res;
    ASSERT_TRUE(stub_->GetTrack(&ctx, req, &res).ok());
    EXPECT_LE(res.records_size(), 777);
    for (const auto& r : res.records()) paged.push_back(r.record().seq());
    token = res.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(paged, streamed);

  for (const char* bad : {"x", "p1.1.2", "p1.1.0.3", "p1.01.2.3"}) {
    grpc::ClientContext ctx;
    cit::v1::GetTrackRequest req;
    req.set_run_id(sc::kRun);
    req.set_page_token(bad);
    cit::v1::GetTrackResponse res;
    grpc::Status s = stub_->GetTrack(&ctx, req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(s.error_message().find("next_page_token"), std::string::npos) << s.error_message();
  }
}

TEST(TrackPageTokenTest, RoundTripsAndRefusesAnythingElse) {
  for (TrackPageToken t :
       {TrackPageToken{{0, 1}, 0}, TrackPageToken{{-5'000'000'000, 7}, 9},
        TrackPageToken{{INT64_MAX, UINT64_MAX}, UINT64_MAX}, TrackPageToken{{INT64_MIN, 1}, 1}}) {
    auto back = DecodeTrackPageToken(EncodeTrackPageToken(t));
    ASSERT_TRUE(back.ok()) << EncodeTrackPageToken(t) << " " << back.status();
    EXPECT_EQ(*back, t);
  }
  for (const char* bad : {"", "p1", "p1.1.2", "p2.1.2.3", "p1.1.2.3.4", "p1.01.2.3", "p1.1.0.3",
                          "p1.+1.2.3", "p1. 1.2.3", "p1.-0.1.1", "p1.99999999999999999999.1.1",
                          "p1.1.1.18446744073709551616", "p1..1.1", "p1.1.1.", "P1.1.1.1"}) {
    EXPECT_FALSE(DecodeTrackPageToken(bad).ok()) << bad;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ExportStreamTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

}  // namespace
}  // namespace cit::dispatch
