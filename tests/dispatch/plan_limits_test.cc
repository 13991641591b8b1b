// Hostile and oversized plans through the real server (loopback gRPC, real SQLite): deeply nested
// route text (issue 10, 4.1), routes past the point limit in every source format (4.4). Each
// must come back as INVALID_ARGUMENT naming the field, with the server still serving afterwards.
// And a restart: plans compile after the ports open, their vehicles' records wait (4.4); and
// ListRuns of large plans: summaries, in pages (4.5). The restart and stored-plan cases run on
// both store backends (Backends/PlanLimitsTest.<case>/sqlite and /postgresql); the parse limits,
// refused before anything is stored, and ListRuns (RunManager's memory) on SQLite only
// (Sqlite/PlanParseLimitsTest.*).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/run_monitoring.h"
#include "tests/dispatch/loopback_server_options.h"
#include "tests/dispatch/store_backends.h"
#include "tests/dispatch/telemetry_test_client.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using ::testing::HasSubstr;

constexpr int kDeep = 100'000;

std::string Repeat(std::string_view s, int n) {
  std::string out;
  out.reserve(s.size() * n);
  for (int i = 0; i < n; ++i) out.append(s);
  return out;
}

class PlanLimitsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { Start(); }
  void TearDown() override { Stop(); }

  void Start() {
    const DispatchServerOptions o = test::LoopbackServerOptions(db_);
    const RunMonitoringOptions rmo = test::LoopbackMonitoringOptions(db_);
    auto rm = RunMonitoring::Open(rmo, &clock_);
    ASSERT_TRUE(rm.ok()) << rm.status();
    rm_ = std::move(*rm);
    DispatchServer::Builder b(o);
    rm_->Register(b);
    auto server = b.Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    rm_->Start();
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->operator_port()),
                                         grpc::InsecureChannelCredentials(), args);
    dispatch_ = cit::v1::Dispatch::NewStub(channel_);
  }

  void Stop() {
    if (server_) server_->Shutdown();
    if (rm_) rm_->Stop();
    server_.reset();
    rm_.reset();
  }

  static cit::v1::RunPlan Plan(const std::string& run_id) {
    cit::v1::RunPlan plan;
    plan.set_run_id(run_id);
    plan.set_vehicle_id("CIT-1");
    return plan;
  }

  grpc::Status Create(const cit::v1::RunPlan& plan, cit::v1::Run* run = nullptr) {
    grpc::ClientContext ctx;
    cit::v1::CreateRunRequest req;
    *req.mutable_plan() = plan;
    cit::v1::Run ignored;
    return dispatch_->CreateRun(&ctx, req, run != nullptr ? run : &ignored);
  }

  // The server still accepts a good plan (it did not crash or wedge on the bad one).
  void ExpectStillServing(const std::string& run_id) {
    cit::v1::RunPlan plan = Plan(run_id);
    cit::v1::Route* r = plan.mutable_route();
    r->set_encoded_polyline("_p~iF~ps|U_ulLnnqC_mqNvxq`@");  // Google's 3-point example
    const grpc::Status s = Create(plan);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  test::BackendDb db_{GetParam()};
  SystemClock clock_;
  std::unique_ptr<RunMonitoring> rm_;
  std::unique_ptr<DispatchServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<cit::v1::Dispatch::Stub> dispatch_;
};

INSTANTIATE_TEST_SUITE_P(Backends, PlanLimitsTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

// Plans refused while parsing, before anything is stored, and ListRuns: SQLite only.
class PlanParseLimitsTest : public PlanLimitsTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, PlanParseLimitsTest, ::testing::Values("sqlite"),
                         test::BackendName);

// ---- 4.1: nesting ---------------------------------------------------------------------------

TEST_P(PlanParseLimitsTest, GeoJsonNested100000DeepIsRefusedWithoutCrashing) {
  cit::v1::RunPlan plan = Plan("R-deep-json");
  // The first coordinate is 100,000 arrays deep (~200 KB); the error message once dumped it.
  plan.mutable_route()->set_geojson(absl::StrCat(R"({"type":"LineString","coordinates":[)",
                                                 Repeat("[", kDeep), "1", Repeat("]", kDeep),
                                                 ",[8.5,47.3]]}"));
  const grpc::Status s = Create(plan);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("route.geojson"));
  EXPECT_THAT(s.error_message(), HasSubstr("nested more than 64 levels"));
  EXPECT_LT(s.error_message().size(), 1000u) << "the message must not echo the input";
  ExpectStillServing("R-after-json");
}

TEST_P(PlanParseLimitsTest, GeoJsonDeepObjectsInPropertiesAreRefusedToo) {
  cit::v1::RunPlan plan = Plan("R-deep-props");
  plan.mutable_route()->set_geojson(absl::StrCat(
      R"({"type":"Feature","properties":)", Repeat(R"({"a":)", kDeep), "1", Repeat("}", kDeep),
      R"(,"geometry":{"type":"LineString","coordinates":[[8.5,47.3],[8.6,47.3]]}})"));
  const grpc::Status s = Create(plan);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("nested more than 64 levels"));
  ExpectStillServing("R-after-props");
}

TEST_P(PlanParseLimitsTest, GpxNested100000DeepIsRefusedWithoutCrashing) {
  cit::v1::RunPlan plan = Plan("R-deep-gpx");
  plan.mutable_route()->set_gpx(absl::StrCat(R"(<?xml version="1.0"?><gpx version="1.1"><rte>)",
                                             Repeat("<e>", kDeep), Repeat("</e>", kDeep),
                                             R"(<rtept lat="47.3" lon="8.5"/></rte></gpx>)"));
  const grpc::Status s = Create(plan);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("route.gpx"));
  EXPECT_THAT(s.error_message(), HasSubstr("levels deep"));
  ExpectStillServing("R-after-gpx");
}

TEST_P(PlanParseLimitsTest, PolylineOfOneEndlessValueIsRefused) {
  // A polyline has no nesting; its one unbounded construct is a value's continuation chunks.
  cit::v1::RunPlan plan = Plan("R-long-value");
  plan.mutable_route()->set_encoded_polyline(Repeat("~", 2 * kDeep));
  const grpc::Status s = Create(plan);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("route.encoded_polyline"));
  EXPECT_LT(s.error_message().size(), 1000u);
  ExpectStillServing("R-after-polyline");
}

// ---- 4.4: route size limits, whatever the source ----------------------------------------------

// One value of Google's polyline encoding (precision 5 units).
std::string EncodeValue(int64_t v) {
  uint64_t u = v < 0 ? ~(static_cast<uint64_t>(v) << 1) : static_cast<uint64_t>(v) << 1;
  std::string out;
  while (u >= 0x20) {
    out += static_cast<char>((0x20 | (u & 0x1f)) + 63);
    u >>= 5;
  }
  out += static_cast<char>(u + 63);
  return out;
}

// `n` points from (47.5, 8.5) stepping 1e-5 degrees east: 2 bytes per point after the first
// ("?" = latitude unchanged, "A" = longitude + 1).
std::string PolylineOfPoints(int n) {
  std::string out = EncodeValue(4'750'000) + EncodeValue(850'000);
  for (int i = 1; i < n; ++i) out += "?A";
  return out;
}

TEST_P(PlanParseLimitsTest, PolylineOfMoreThan100000PointsIsRefused) {
  cit::v1::RunPlan plan = Plan("R-polyline-150001");
  plan.mutable_route()->set_encoded_polyline(PolylineOfPoints(150'001));
  const grpc::Status s = Create(plan);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("route.encoded_polyline"));
  EXPECT_THAT(s.error_message(), HasSubstr("at most 100000"));
  // Exactly the limit is accepted.
  plan.set_run_id("R-polyline-100000");
  plan.mutable_route()->set_encoded_polyline(PolylineOfPoints(100'000));
  const grpc::Status ok = Create(plan);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

TEST_P(PlanParseLimitsTest, GpxOfMoreThan100000PointsIsRefusedBeforeParsing) {
  std::string gpx = R"(<?xml version="1.0"?><gpx version="1.1"><trk><trkseg>)";
  for (int i = 0; i < 110'000; ++i) {
    absl::StrAppend(&gpx, R"(<trkpt lat="47.)", 100000 + i % 90000, R"(" lon="8.5"/>)");
  }
  gpx += "</trkseg></trk></gpx>";
  cit::v1::RunPlan plan = Plan("R-gpx-110000");
  plan.mutable_route()->set_gpx(gpx);
  const grpc::Status s = Create(plan);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("route.gpx"));
  EXPECT_THAT(s.error_message(), HasSubstr("at most 100000"));
}

TEST_P(PlanParseLimitsTest, GeoJsonOfMoreThan100000PointsIsRefused) {
  std::string geojson = R"({"type":"LineString","coordinates":[)";
  for (int i = 0; i < 100'001; ++i) {
    absl::StrAppend(&geojson, i == 0 ? "" : ",", "[8.5,", 47 + i * 1e-6, "]");
  }
  geojson += "]}";
  cit::v1::RunPlan plan = Plan("R-geojson-100001");
  plan.mutable_route()->set_geojson(geojson);
  const grpc::Status s = Create(plan);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("route.geojson"));
  EXPECT_THAT(s.error_message(), HasSubstr("at most 100000"));
}

// ---- 4.4: start-up does not wait for plans to compile ----------------------------------------

TEST_P(PlanLimitsTest, RestartCompilesPlansAfterThePortsOpenAndHoldsTheirVehiclesRecords) {
  cit::v1::RunPlan live = Plan("R-live");
  for (int i = 0; i <= 2000; ++i) {  // 2 km east along a street in Zurich, 1 m vertices
    cit::v1::Position* p = live.mutable_route()->add_points();
    p->set_lat_deg(47.37);
    p->set_lon_deg(8.54 + i * 1.3e-5);
  }
  ASSERT_TRUE(Create(live).ok());
  {
    grpc::ClientContext ctx;
    cit::v1::DispatchRunRequest d;
    d.set_run_id("R-live");
    cit::v1::Run run;
    ASSERT_TRUE(dispatch_->DispatchRun(&ctx, d, &run).ok());
  }
  cit::v1::RunPlan planned = live;
  planned.set_run_id("R-planned");
  planned.set_vehicle_id("CIT-2");
  ASSERT_TRUE(Create(planned).ok());
  Stop();

  // Open (what main does before the ports): nothing compiled yet.
  auto rm = RunMonitoring::Open(test::LoopbackMonitoringOptions(db_), &clock_);
  ASSERT_TRUE(rm.ok()) << rm.status();
  rm_ = std::move(*rm);
  EXPECT_EQ(rm_->runs().compiling(), 2u);
  ASSERT_TRUE(rm_->runs().Get("R-live").ok()) << "runs are listed while they compile";
  DispatchServer::Builder b(test::LoopbackServerOptions(db_));
  rm_->Register(b);
  auto server = b.Start();
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);

  // The vehicle reports while its plan is still waiting: its records are held, not judged.
  cit::test::TelemetryTestClient agent(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->telemetry_port()),
                          grpc::InsecureChannelCredentials()));
  ASSERT_GE(agent.Hello("CIT-1"), 0);
  cit::v1::RecordBatch batch;
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    *batch.add_records() = cit::test::MakeFix(seq, 47.37, 8.54 + seq * 1e-4);
  }
  ASSERT_TRUE(agent.Send(batch));
  ASSERT_TRUE(agent.WaitAck(20));
  rm_->monitor().RunOnce();  // the monitor thread is not started yet: drain synchronously
  EXPECT_EQ(rm_->monitor().held_records(), 20u);
  EXPECT_EQ(rm_->monitor().records_processed(), 0u);

  // Start: the monitor thread and the background compile; the held records are then judged
  // against the run (on it: no deviation, no "moved without run").
  rm_->Start();
  ASSERT_TRUE(cit::test::WaitFor([&] { return rm_->monitor().records_processed() >= 20; },
                                 std::chrono::seconds(60)));
  ASSERT_TRUE(cit::test::WaitFor([&] { return rm_->runs().compiling() == 0; }));
  EXPECT_EQ(rm_->monitor().held_records(), 0u);
  rm_->monitor().Flush();
  const cit::v1::Fleet fleet = rm_->monitor().Fleet();
  bool found = false;
  for (const auto& v : fleet.vehicles()) {
    if (v.vehicle_id() != "CIT-1") continue;
    found = true;
    EXPECT_EQ(v.run_id(), "R-live");
  }
  EXPECT_TRUE(found);
  for (const cit::v1::Alert& a : rm_->alerts().List(AlertFilter{})) {
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_MOVED_WITHOUT_RUN) << "judged without its plan";
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_ROUTE_DEVIATION) << "judged against another route";
  }
  // The planned run compiled too, and can be dispatched.
  grpc::ClientContext ctx;
  cit::v1::DispatchRunRequest d;
  d.set_run_id("R-planned");
  cit::v1::Run run;
  channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->operator_port()),
                                 grpc::InsecureChannelCredentials());
  dispatch_ = cit::v1::Dispatch::NewStub(channel_);
  const grpc::Status s = dispatch_->DispatchRun(&ctx, d, &run);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_P(PlanLimitsTest, StoredPlanThatNoLongerCompilesDoesNotStopTheServer) {
  // A plan stored by an older version, over today's limits: the server must still start (it
  // refused to, with DATA_LOSS, when every plan was compiled before the ports opened).
  Stop();
  {
    auto store = db_.OpenRunStore();
    ASSERT_TRUE(store.ok()) << store.status();
    cit::v1::Run run;
    *run.mutable_plan() = Plan("R-old");
    run.mutable_plan()->mutable_route()->set_encoded_polyline(PolylineOfPoints(100'001));
    run.set_state(cit::v1::RUN_STATE_DISPATCHED);
    run.set_version(1);
    ASSERT_TRUE((*store)->Save(run, cit::v1::PlanEvent()).ok());
  }
  Start();
  ASSERT_NE(rm_, nullptr);
  ASSERT_TRUE(cit::test::WaitFor([&] { return rm_->runs().compiling() == 0; }));
  auto old = rm_->runs().Get("R-old");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->state(), cit::v1::RUN_STATE_DISPATCHED);
  grpc::ClientContext ctx;
  cit::v1::EndRunRequest abort;
  abort.set_run_id("R-old");
  abort.set_comment("plan over today's limits");
  cit::v1::Run run;
  const grpc::Status s = dispatch_->AbortRun(&ctx, abort, &run);
  EXPECT_TRUE(s.ok()) << "an unusable stored plan can be aborted: " << s.error_message();
  ExpectStillServing("R-new");
}

// ---- 4.5: ListRuns returns summaries, in pages ----------------------------------------------

// A GeoJSON route of `n` points (~15 bytes each) near Zurich.
std::string GeoJsonOfPoints(int n) {
  std::string out = R"({"type":"LineString","coordinates":[)";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", "[", absl::SixDigits(8.5 + i * 1e-5), ",",
                    absl::SixDigits(47.3 + (i % 7) * 1e-5), "]");
  }
  return out + "]}";
}

// SQLite only: ListRuns pages RunManager's memory, not the store, and the case's ~7 s (compiling
// large plans) would double for nothing on PostgreSQL.
TEST_P(PlanParseLimitsTest, LargePlansListAsSummariesInPagesUnderTheClientsMessageLimit) {
  // Five plans of ~0.9 MB route text: 4.6 MB of whole plans, over the client's 4 MiB limit.
  const std::string route = GeoJsonOfPoints(60'000);
  ASSERT_GT(5 * route.size(), std::size_t{4} << 20) << "the whole plans must not fit one message";
  for (int i = 0; i < 5; ++i) {
    cit::v1::RunPlan plan = Plan(absl::StrCat("R-big-", i));
    plan.set_vehicle_id(absl::StrCat("CIT-", i));
    plan.mutable_route()->set_geojson(route);
    cit::v1::Stop* stop = plan.add_stops();
    stop->set_stop_id("S1");
    stop->mutable_position()->set_lat_deg(47.3);
    stop->mutable_position()->set_lon_deg(8.5);
    stop->set_radius_m(50);
    const grpc::Status s = Create(plan);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto list = [&](const cit::v1::ListRunsRequest& req, cit::v1::ListRunsResponse* resp) {
    grpc::ClientContext ctx;
    return dispatch_->ListRuns(&ctx, req, resp);
  };
  // Default request (an old client's): one page of summaries, no route text.
  cit::v1::ListRunsResponse all;
  grpc::Status s = list(cit::v1::ListRunsRequest(), &all);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(all.runs_size(), 5);
  EXPECT_TRUE(all.next_page_token().empty());
  for (const cit::v1::Run& r : all.runs()) {
    EXPECT_TRUE(r.plan().route().geojson().empty());
    EXPECT_EQ(r.plan().stops_size(), 1);
    EXPECT_EQ(r.state(), cit::v1::RUN_STATE_PLANNED);
  }
  EXPECT_LT(all.ByteSizeLong(), 4'000u);

  // Pages of 3 in run_id order, then the rest.
  cit::v1::ListRunsRequest req;
  req.set_page_size(3);
  cit::v1::ListRunsResponse page1, page2;
  ASSERT_TRUE(list(req, &page1).ok());
  ASSERT_EQ(page1.runs_size(), 3);
  EXPECT_EQ(page1.runs(0).plan().run_id(), "R-big-0");
  ASSERT_FALSE(page1.next_page_token().empty());
  req.set_page_token(page1.next_page_token());
  ASSERT_TRUE(list(req, &page2).ok());
  ASSERT_EQ(page2.runs_size(), 2);
  EXPECT_EQ(page2.runs(0).plan().run_id(), "R-big-3");
  EXPECT_TRUE(page2.next_page_token().empty());

  // Whole plans on request: pages end before 3 MiB, so each fits the client's limit.
  cit::v1::ListRunsRequest full;
  full.set_view(cit::v1::RUN_VIEW_FULL);
  int seen = 0;
  do {
    cit::v1::ListRunsResponse page;
    s = list(full, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_GT(page.runs_size(), 0);
    EXPECT_LE(page.ByteSizeLong(), 3u << 20);
    for (const cit::v1::Run& r : page.runs()) EXPECT_EQ(r.plan().route().geojson(), route);
    seen += page.runs_size();
    full.set_page_token(page.next_page_token());
  } while (!full.page_token().empty());
  EXPECT_EQ(seen, 5);

  // GetRun always returns the whole plan; a page over 1,000 is refused.
  grpc::ClientContext ctx;
  cit::v1::GetRunRequest get;
  get.set_run_id("R-big-2");
  cit::v1::Run run;
  ASSERT_TRUE(dispatch_->GetRun(&ctx, get, &run).ok());
  EXPECT_EQ(run.plan().route().geojson(), route);
  cit::v1::ListRunsRequest too_big;
  too_big.set_page_size(1001);
  cit::v1::ListRunsResponse ignored;
  EXPECT_EQ(list(too_big, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cit::dispatch
