// GeoJSON parsed back, GPX validated with xmllint against the GPX 1.1 element subset we emit
// (tests/ctl/data/gpx11_subset.xsd), CSV with a header row.
#include "dispatch-server/audit/track_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tests/ctl/scenario.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

namespace sc = cit::test::scenario;
using nlohmann::json;

std::vector<cit::v1::StoredRecord> Stored() {
  std::vector<cit::v1::StoredRecord> out;
  int i = 0;
  for (const auto& r : sc::MakeRecords()) {
    auto& s = out.emplace_back();
    *s.mutable_record() = r;
    *s.mutable_server_received_time() = cit::test::Plus(r.event_time(), 0.25);
    s.set_chain_hash(std::string(63, '0') + std::to_string(i++ % 10));
  }
  return out;
}

std::vector<cit::v1::Alert> Alerts() {
  cit::v1::Alert a;
  a.set_alert_id(3);
  a.set_vehicle_id(sc::kVehicle);
  a.set_run_id(sc::kRun);
  a.set_kind(cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP);
  a.set_severity(cit::v1::SEVERITY_CRITICAL);
  a.set_state(cit::v1::ALERT_STATE_RESOLVED);
  a.set_subject("1");
  a.set_details("door 1 opened 330 m from the route, no stop within 350 m");
  *a.mutable_event_time() = cit::test::Plus(sc::Start(), 112);
  *a.mutable_position() = cit::test::Pos(sc::kLat, sc::kLon0);
  auto* ack = a.add_actions();
  ack->set_state(cit::v1::ALERT_STATE_ACKNOWLEDGED);
  ack->set_actor("olga");
  ack->set_comment("calling crew <now> & \"checking\"");
  return {a};
}

int XmlLint(const std::string& args) {
  return cit::test::Shell("xmllint --noout " + args + " >/dev/null 2>&1");
}

TEST(TrackExportTest, GeoJsonParsesBackWithTrackRouteStopsEventsAndAlerts) {
  const std::string text = TrackGeoJson(sc::MakeRun(), Stored(), Alerts());
  json doc = json::parse(text);
  EXPECT_EQ(doc["type"], "FeatureCollection");
  std::map<std::string, std::vector<json>> by_kind;
  for (const auto& f : doc["features"]) {
    EXPECT_EQ(f["type"], "Feature");
    by_kind[f["properties"]["kind"].get<std::string>()].push_back(f);
  }
  ASSERT_EQ(by_kind["track"].size(), 1u);
  const json& track = by_kind["track"][0];
  EXPECT_EQ(track["geometry"]["type"], "LineString");
  ASSERT_EQ(track["geometry"]["coordinates"].size(), 36u);
  EXPECT_EQ(track["properties"]["times"].size(), 36u);
  EXPECT_EQ(track["properties"]["times"][0], "2026-01-15T08:00:00Z");
  // RFC 7946 order: [lon, lat].
  EXPECT_NEAR(track["geometry"]["coordinates"][0][0].get<double>(), sc::kLon0, 1e-9);
  EXPECT_NEAR(track["geometry"]["coordinates"][0][1].get<double>(), sc::kLat, 1e-9);
  ASSERT_EQ(by_kind["planned_route"].size(), 1u);
  EXPECT_EQ(by_kind["planned_route"][0]["geometry"]["coordinates"].size(), 3u);
  EXPECT_EQ(by_kind["stop"].size(), 3u);
  ASSERT_EQ(by_kind["door"].size(), 4u);
  EXPECT_EQ(by_kind["door"][0]["properties"]["detail"], "door 1 open");
  ASSERT_EQ(by_kind["alert"].size(), 1u);
  const json& alert = by_kind["alert"][0]["properties"];
  EXPECT_EQ(alert["alert_kind"], "DOOR_OPEN_OUTSIDE_STOP");
  EXPECT_EQ(alert["actions"][0]["actor"], "olga");
}

TEST(TrackExportTest, GpxValidatesAgainstTheGpx11Schema) {
  cit::test::TempDir dir;
  const auto path = dir / "run.gpx";
  std::ofstream(path) << TrackGpx(sc::MakeRun(), Stored());
  const std::string xsd = cit::test::SourcePath("tests/ctl/data/gpx11_subset.xsd").string();
  EXPECT_EQ(XmlLint("--schema " + xsd + " " + path.string()), 0) << cit::test::ReadFile(path);
  const std::string gpx = cit::test::ReadFile(path);
  EXPECT_NE(gpx.find("<trkpt lat=\"47.3700000\" lon=\"8.5000000\"><ele>410.50</ele>"
                     "<time>2026-01-15T08:00:00Z</time><fix>3d</fix><sat>9</sat>"
                     "<hdop>0.90</hdop></trkpt>"),
            std::string::npos);
  EXPECT_NE(gpx.find("<name>door 1 open</name>"), std::string::npos);
}

TEST(TrackExportTest, SchemaRejectsMisorderedGpxSoTheCheckAboveMeansSomething) {
  cit::test::TempDir dir;
  const auto path = dir / "bad.gpx";
  std::string gpx = TrackGpx(sc::MakeRun(), Stored());
  // Swap <ele> and <time> in the first track point: wrong order for GPX 1.1.
  const std::string good = "<ele>410.50</ele><time>2026-01-15T08:00:00Z</time>";
  const auto at = gpx.find(good);
  ASSERT_NE(at, std::string::npos);
  gpx.replace(at, good.size(), "<time>2026-01-15T08:00:00Z</time><ele>410.50</ele>");
  std::ofstream(path) << gpx;
  const std::string xsd = cit::test::SourcePath("tests/ctl/data/gpx11_subset.xsd").string();
  EXPECT_NE(XmlLint("--schema " + xsd + " " + path.string()), 0);
}

TEST(TrackExportTest, GpxStartsANewSegmentAfterAGap) {
  auto records = Stored();
  // Push the last five fixes 10 minutes later.
  for (std::size_t i = records.size() - 5; i < records.size(); ++i) {
    auto* t = records[i].mutable_record()->mutable_event_time();
    *t = cit::test::Plus(*t, 600);
  }
  const std::string gpx = TrackGpx(sc::MakeRun(), records);
  std::size_t segs = 0;
  for (auto at = gpx.find("<trkseg>"); at != std::string::npos; at = gpx.find("<trkseg>", at + 1)) {
    ++segs;
  }
  EXPECT_EQ(segs, 2u);
}

TEST(TrackExportTest, CsvHasHeaderAndOneQuotedSafeRowPerRecord) {
  const std::string csv = TrackCsv(Stored());
  std::istringstream in(csv);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), sc::MakeRecords().size() + 1);
  EXPECT_EQ(lines[0],
            "seq,event_time,kind,lat_deg,lon_deg,alt_m,speed_mps,track_deg,mode,satellites,hdop,"
            "eph_m,detail,server_received_time,chain_hash");
  EXPECT_EQ(lines[1],
            "1,2026-01-15T08:00:00Z,fix,47.3700000,8.5000000,410.50,10.00,,3D,9,0.90,,,"
            "2026-01-15T08:00:00.250Z," +
                std::string(64, '0'));
  bool door = false;
  for (const auto& l : lines) {
    if (l.find(",door,") != std::string::npos && l.find("door 1 open") != std::string::npos) {
      door = true;
      // 15 columns in every row.
      EXPECT_EQ(std::count(l.begin(), l.end(), ','), 14);
    }
  }
  EXPECT_TRUE(door);
}

// The CSV writes its times and numbers itself (for speed); they must be exactly what
// TimeUtil::ToString and printf("%.*f") give, for any time the Timestamp type allows and for
// values that round on a tie.
TEST(TrackExportTest, CsvTimesAndNumbersAreTimeUtilAndPrintfExactly) {
  std::mt19937_64 rng(7);
  std::vector<cit::v1::StoredRecord> records;
  const int64_t kMin = -62135596800;  // 0001-01-01
  const int64_t kMax = 253402300799;  // 9999-12-31T23:59:59
  const int32_t nanos[] = {0, 500000000, 1000000, 123456000, 1000, 999999999, 7};
  const double values[] = {0.125, 12.625, -0.375, 47.12345675, -8.00000005, 0.0, -0.0, 1e-9};
  for (int i = 0; i < 3000; ++i) {
    auto& s = records.emplace_back();
    cit::v1::Record& r = *s.mutable_record();
    r.set_seq(static_cast<uint64_t>(i) + 1);
    int64_t secs = kMin + static_cast<int64_t>(rng() % static_cast<uint64_t>(kMax - kMin + 1));
    if (i < 4) secs = std::array<int64_t, 4>{kMin, kMax, 0, -1}[i];
    r.mutable_event_time()->set_seconds(secs);
    r.mutable_event_time()->set_nanos(nanos[i % 7]);
    auto* f = r.mutable_fix();
    std::uniform_real_distribution<double> deg(-180, 180);
    f->set_lat_deg(i < 8 ? values[i] : deg(rng) / 2);
    f->set_lon_deg(deg(rng));
    f->set_speed_mps(i < 8 ? values[i] : (rng() % 100000) / 8.0);
    f->set_hdop((rng() % 1000) / 8.0);
    f->set_mode(cit::v1::FIX_MODE_3D);
    *s.mutable_server_received_time() = r.event_time();
    s.set_chain_hash(std::string(64, 'a'));
  }
  auto doc = ExportRunTrack(cit::v1::EXPORT_FORMAT_CSV, sc::MakeRun(), records, {});
  ASSERT_TRUE(doc.ok()) << doc.status();
  std::istringstream in(doc->content());
  std::string line;
  std::getline(in, line);  // header
  auto printf_num = [](double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return std::string(buf);
  };
  for (const auto& s : records) {
    ASSERT_TRUE(std::getline(in, line));
    const cit::v1::Record& r = s.record();
    const std::string t = google::protobuf::util::TimeUtil::ToString(r.event_time());
    const std::string want =
        std::to_string(r.seq()) + "," + t + ",fix," + printf_num(r.fix().lat_deg(), 7) + "," +
        printf_num(r.fix().lon_deg(), 7) + ",," + printf_num(r.fix().speed_mps(), 2) + ",,3D,," +
        printf_num(r.fix().hdop(), 2) + ",,";
    EXPECT_EQ(line.substr(0, want.size()), want);
    EXPECT_NE(line.find("," + t + "," + std::string(64, 'a')), std::string::npos) << line;
  }
}

TEST(TrackExportTest, ExportPicksMediaTypeAndFileName) {
  auto doc = ExportRunTrack(cit::v1::EXPORT_FORMAT_GPX, sc::MakeRun(), Stored(), {});
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->media_type(), "application/gpx+xml");
  EXPECT_EQ(doc->suggested_file_name(), std::string(sc::kRun) + ".gpx");
  EXPECT_FALSE(ExportRunTrack(cit::v1::EXPORT_FORMAT_UNSPECIFIED, sc::MakeRun(), {}, {}).ok());
}

}  // namespace
}  // namespace cit::dispatch
