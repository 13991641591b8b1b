// Runs of any length export (issue 16 §2): an 8 h and a 24 h run at 1 Hz are streamed into a
// live dispatch-server over mTLS, then exported in every format through the real dispatchctl
// (StreamExport), and the 24 h track read with StreamTrack and with GetTrack pages. Before,
// an 8 h CSV failed with "Received message larger than max (4973065 vs. 4194304)".
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cit/v1/dispatch.grpc.pb.h"
#include "tests/ctl/live_server_fixture.h"
#include "tests/ctl/long_run.h"
#include "tests/ctl/scenario.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

namespace sc = cit::test::scenario;
using cit::test::ReadFile;
using google::protobuf::util::TimeUtil;

std::size_t Count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

class LongExportTest : public cit::test::LiveServerTest {
 protected:
  // Plans the scenario run to start at the first record, dispatches it and streams `seconds`
  // of 1 Hz records into it.
  void RunFor(int seconds) {
    seconds_ = seconds;
    base_ = cit::test::Plus(TimeUtil::GetCurrentTime(), -seconds - 60);
    base_.set_nanos(0);
    ASSERT_EQ(Ctl("dora", "plan create --force " + WritePlanJson()), 0) << err_;
    ASSERT_EQ(Ctl("dora", std::string("plan dispatch ") + sc::kRun), 0) << err_;
    records_ = cit::test::LongRunRecords(base_, seconds);
    Inject(records_, std::chrono::seconds(300));
  }

  std::string Export(const std::string& format) {
    const auto file = dir_ / ("run." + format);
    EXPECT_EQ(Ctl("aude", std::string("audit export ") + sc::kRun + " --format " + format + " -o " +
                              file.string()),
              0)
        << err_;
    EXPECT_NE(err_.find("wrote " + file.string()), std::string::npos) << err_;
    return ReadFile(file);
  }

  std::string TimeAt(int second) { return TimeUtil::ToString(cit::test::Plus(base_, second)); }

  void ExpectEveryFormatComplete() {
    const cit::test::LongRunCounts n = cit::test::LongRunCountsFor(seconds_);
    const std::string first_time = TimeAt(0);
    const std::string last_time = TimeAt(seconds_ - 1);

    const std::vector<std::string> csv = Lines(Export("csv"));
    ASSERT_EQ(csv.size(), records_.size() + 1);
    EXPECT_EQ(csv[1].rfind("1," + first_time + ",fix,", 0), 0u) << csv[1];
    EXPECT_EQ(csv.back().rfind(std::to_string(records_.back().seq()) + ",", 0), 0u) << csv.back();
    EXPECT_NE(csv.back().find(last_time), std::string::npos) << csv.back();
    EXPECT_EQ(std::count_if(csv.begin(), csv.end(),
                            [](const std::string& l) { return l.find(",door,") != l.npos; }),
              static_cast<std::ptrdiff_t>(n.doors));

    const std::string gpx = Export("gpx");
    EXPECT_EQ(Count(gpx, "<trkpt "), n.fixes);
    EXPECT_EQ(Count(gpx, "<type>door</type>"), n.doors);
    EXPECT_NE(gpx.find("<time>" + first_time + "</time><fix>3d</fix>"), std::string::npos);
    EXPECT_NE(gpx.find("<time>" + last_time + "</time><fix>3d</fix>"), std::string::npos);
    EXPECT_EQ(gpx.substr(gpx.size() - 15), " </trk>\n</gpx>\n");
    const std::string xsd = cit::test::SourcePath("tests/ctl/data/gpx11_subset.xsd").string();
    EXPECT_EQ(cit::test::Shell("xmllint --noout --huge --schema " + xsd + " " +
                               (dir_ / "run.gpx").string() + " >/dev/null 2>&1"),
              0);

    const nlohmann::json doc = nlohmann::json::parse(Export("geojson"));
    std::size_t doors = 0;
    const nlohmann::json* track = nullptr;
    for (const auto& f : doc["features"]) {
      const std::string kind = f["properties"]["kind"];
      if (kind == "track") track = &f;
      if (kind == "door") ++doors;
    }
    ASSERT_NE(track, nullptr);
    EXPECT_EQ(doors, n.doors);
    EXPECT_EQ((*track)["geometry"]["type"], "LineString");
    EXPECT_EQ((*track)["geometry"]["coordinates"].size(), n.fixes);
    EXPECT_EQ((*track)["properties"]["fixes"], n.fixes);
    const auto& times = (*track)["properties"]["times"];
    ASSERT_EQ(times.size(), n.fixes);
    EXPECT_EQ(times.front(), first_time);
    EXPECT_EQ(times.back(), last_time);
    EXPECT_EQ((*track)["properties"]["seqs"].size(), n.fixes);
    EXPECT_EQ((*track)["properties"]["seqs"].back(), records_.back().seq());
  }

  std::unique_ptr<cit::v1::Audit::Stub> AuditStub() {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadFile(dir_ / "pki" / "ca.crt");
    return cit::v1::Audit::NewStub(grpc::CreateChannel(
        "localhost:" + std::to_string(operator_port_), grpc::SslCredentials(tls)));
  }

  static void Authorize(grpc::ClientContext& ctx) {
    ctx.AddMetadata("authorization", "Bearer cit_e2e_aude");
  }

  // Every stored record of the run, in order, exactly once.
  void ExpectWholeTrack(const std::vector<cit::v1::StoredRecord>& got) {
    ASSERT_EQ(got.size(), records_.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].record().seq(), records_[i].seq()) << "at " << i;
    }
  }

  int seconds_ = 0;
  std::vector<cit::v1::Record> records_;
};

TEST_F(LongExportTest, EightHourRunExportsInEveryFormat) {
  RunFor(8 * 3600);
  ExpectEveryFormatComplete();
}

TEST_F(LongExportTest, TwentyFourHourRunExportsInEveryFormatAndItsTrackReads) {
  RunFor(24 * 3600);
  ExpectEveryFormatComplete();

  auto audit = AuditStub();
  {
    // StreamTrack: pages of bounded size, the whole track.
    grpc::ClientContext ctx;
    Authorize(ctx);
    cit::v1::GetTrackRequest req;
    req.set_run_id(sc::kRun);
    auto reader = audit->StreamTrack(&ctx, req);
    std::vector<cit::v1::StoredRecord> got;
    cit::v1::GetTrackResponse page;
    std::size_t messages = 0;
    while (reader->Read(&page)) {
      ++messages;
      EXPECT_LE(page.ByteSizeLong(), 4u << 20);
      for (auto& r : *page.mutable_records()) got.push_back(std::move(r));
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_GT(messages, 1u);
    ExpectWholeTrack(got);
  }
  {
    // The unary call refuses what it cannot answer whole, and says what to do.
    grpc::ClientContext ctx;
    Authorize(ctx);
    cit::v1::GetTrackRequest req;
    req.set_run_id(sc::kRun);
    cit::v1::GetTrackResponse res;
    grpc::Status s = audit->GetTrack(&ctx, req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(s.error_message().find("next_page_token"), std::string::npos) << s.error_message();
  }
  {
    // GetTrack pages (what the web console does over HTTP).
    std::vector<cit::v1::StoredRecord> got;
    std::string token;
    std::size_t pages = 0;
    do {
      grpc::ClientContext ctx;
      Authorize(ctx);
      cit::v1::GetTrackRequest req;
      req.set_run_id(sc::kRun);
      req.set_page_size(100000);  // capped by the server
      req.set_page_token(token);
      cit::v1::GetTrackResponse res;
      grpc::Status s = audit->GetTrack(&ctx, req, &res);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ++pages;
      EXPECT_LE(res.records_size(), 5000);
      for (auto& r : *res.mutable_records()) got.push_back(std::move(r));
      token = res.next_page_token();
    } while (!token.empty());
    EXPECT_EQ(pages, (records_.size() + 4999) / 5000);
    ExpectWholeTrack(got);
  }
  {
    // The unary export points to the stream.
    grpc::ClientContext ctx;
    Authorize(ctx);
    cit::v1::ExportRunRequest req;
    req.set_run_id(sc::kRun);
    req.set_format(cit::v1::EXPORT_FORMAT_CSV);
    cit::v1::ExportRunResponse res;
    grpc::Status s = audit->ExportRun(&ctx, req, &res);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(s.error_message().find("StreamExport"), std::string::npos) << s.error_message();
  }
}

}  // namespace
}  // namespace cit::ctl
