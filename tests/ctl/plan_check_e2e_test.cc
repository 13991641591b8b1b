// `dispatchctl plan check` end to end (issue 13): a live dispatch-server (TLS, tokens, its store
// on SQLite and on PostgreSQL: Backends/PlanCheckE2eTest.<case>/sqlite and /postgresql) and the
// real dispatchctl. The same drive as GPX, GeoJSON, CSV and NMEA files and as a stored
// run's records (--run) gives the same alerts from the server's own rules; checking changes
// nothing the server keeps (alerts, their events, the record chains, the audit verdict). On a
// real drive (Kubicka, ../shared/data) the planted wrong route is found, as a file and --run.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/ctl/live_server_fixture.h"
#include "tests/support/real_drives.h"

namespace cit::test {
namespace {

namespace sc = scenario;

struct Fix {
  int64_t t_s;  // Unix seconds
  double lat;
  double lon;
};

std::vector<Fix> FixesOf(const std::vector<cit::v1::Record>& records) {
  std::vector<Fix> out;
  for (const cit::v1::Record& r : records) {
    if (r.has_fix())
      out.push_back({r.event_time().seconds(), r.fix().lat_deg(), r.fix().lon_deg()});
  }
  return out;
}

std::string Iso(int64_t t_s) {
  return google::protobuf::util::TimeUtil::ToString(
      google::protobuf::util::TimeUtil::SecondsToTimestamp(t_s));
}

std::string Csv(const std::vector<Fix>& fixes) {
  std::ostringstream o;
  o.precision(10);
  o << "time,lat,lon\n";
  for (const Fix& f : fixes) o << Iso(f.t_s) << "," << f.lat << "," << f.lon << "\n";
  return o.str();
}

std::string Gpx(const std::vector<Fix>& fixes) {
  std::ostringstream o;
  o.precision(10);
  o << "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"test\"><trk><trkseg>\n";
  for (const Fix& f : fixes) {
    o << "<trkpt lat=\"" << f.lat << "\" lon=\"" << f.lon << "\"><time>" << Iso(f.t_s)
      << "</time></trkpt>\n";
  }
  o << "</trkseg></trk></gpx>\n";
  return o.str();
}

std::string GeoJson(const std::vector<Fix>& fixes) {
  std::ostringstream o;
  o.precision(10);
  o << "{\"type\":\"FeatureCollection\",\"features\":[\n";
  for (std::size_t i = 0; i < fixes.size(); ++i) {
    o << (i ? ",\n" : "") << "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\","
      << "\"coordinates\":[" << fixes[i].lon << "," << fixes[i].lat << "]},"
      << "\"properties\":{\"time\":\"" << Iso(fixes[i].t_s) << "\"}}";
  }
  o << "]}\n";
  return o.str();
}

// ddmm.mmmmmm: six decimals of a minute are 2 mm, so NMEA loses nothing the rules could see.
std::string NmeaAngle(double deg, int deg_digits) {
  const double a = std::fabs(deg);
  const int d = static_cast<int>(a);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*d%09.6f", deg_digits, d, (a - d) * 60);
  return buf;
}

std::string Nmea(const std::vector<Fix>& fixes) {
  std::ostringstream o;
  for (const Fix& f : fixes) {
    const std::time_t t = f.t_s;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%H%M%S,A,", &tm);
    char date[16];
    std::strftime(date, sizeof date, "%d%m%y", &tm);
    const std::string body = "GPRMC," + std::string(when) + NmeaAngle(f.lat, 2) + "," +
                             (f.lat < 0 ? "S" : "N") + "," + NmeaAngle(f.lon, 3) + "," +
                             (f.lon < 0 ? "W" : "E") + ",,," + date + ",,,A";
    unsigned sum = 0;
    for (char c : body) sum ^= static_cast<unsigned char>(c);
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02X", sum);
    o << "$" << body << "*" << hex << "\r\n";
  }
  return o.str();
}

// kind -> event times (Unix seconds), the comparable part of an answer.
std::map<std::string, std::multiset<int64_t>> Alerts(const cit::v1::CheckPlanResponse& r) {
  std::map<std::string, std::multiset<int64_t>> out;
  for (const cit::v1::Alert& a : r.alerts()) {
    out[cit::v1::AlertKind_Name(a.kind())].insert(a.event_time().seconds());
  }
  return out;
}

class PlanCheckE2eTest : public cit::test::BackendLiveServerTest {
 protected:
  // The fixture's scenario with a comms-loss limit of an hour: the live server's own clock must
  // not raise COMMS_LOST while the test compares what the server keeps before and after.
  std::string RunQuietScenario() {
    std::string plan = ReadFile(WritePlanJson());
    plan.insert(1, "\"limits\":{\"comms_loss_s\":3600},");
    const std::string file = Write("plan.json", plan);
    EXPECT_EQ(Ctl("dora", "plan create --force " + file), 0) << err_;
    EXPECT_EQ(Ctl("dora", std::string("plan dispatch ") + sc::kRun), 0) << err_;
    Inject(sc::MakeRecords(base_));
    EXPECT_TRUE(WaitFor(
        [&] {
          return Ctl("aude", std::string("audit report ") + sc::kRun) == 0 &&
                 out_.find("DOOR_OPEN_OUTSIDE_STOP") != std::string::npos &&
                 out_.find("ROUTE_DEVIATION") != std::string::npos;
        },
        std::chrono::seconds(20)))
        << out_ << err_;
    return file;
  }

  cit::v1::CheckPlanResponse Check(const std::string& who, const std::string& args) {
    cit::v1::CheckPlanResponse r;
    EXPECT_EQ(Ctl(who, "--json plan check " + args), 0) << err_;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out_, &r).ok()) << out_;
    return r;
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  // What plan check must never change: the run's alerts (with every lifecycle field), the
  // audit verdict with its chain heads and lengths.
  std::string ServerRecordOfTheRun() {
    EXPECT_EQ(Ctl("aude", std::string("--json audit report ") + sc::kRun), 0) << err_;
    cit::v1::RunReport report;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out_, &report).ok()) << out_;
    std::string alerts;
    for (const cit::v1::Alert& a : report.alerts()) alerts += a.DebugString();
    EXPECT_EQ(Ctl("aude", std::string("--json audit verify ") + sc::kRun), 0) << out_ << err_;
    cit::v1::VerifyChainResponse verify;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out_, &verify).ok()) << out_;
    std::string chains;
    for (const cit::v1::ChainResult& c : verify.chains()) {
      chains += c.chain() + " " + c.head() + " " + std::to_string(c.length()) + "\n";
    }
    EXPECT_TRUE(verify.intact());
    return alerts + chains;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, PlanCheckE2eTest, ::testing::Values("sqlite", "postgresql"),
                         cit::test::BackendParamName);

TEST_P(PlanCheckE2eTest, EveryTrackFormatAndTheStoredRunGiveTheSameAlertsAndChangeNothing) {
  const std::string plan = RunQuietScenario();
  const std::string before = ServerRecordOfTheRun();
  EXPECT_NE(before.find("ROUTE_DEVIATION"), std::string::npos);

  const std::vector<Fix> fixes = FixesOf(sc::MakeRecords(base_));
  std::map<std::string, std::map<std::string, std::multiset<int64_t>>> by_format;
  for (const auto& [name, text] :
       std::vector<std::pair<std::string, std::string>>{{"drive.csv", Csv(fixes)},
                                                        {"drive.gpx", Gpx(fixes)},
                                                        {"drive.geojson", GeoJson(fixes)},
                                                        {"drive.nmea", Nmea(fixes)}}) {
    const cit::v1::CheckPlanResponse r = Check("dora", plan + " --track " + Write(name, text));
    EXPECT_EQ(r.fixes(), fixes.size()) << name;
    by_format[name] = Alerts(r);
    EXPECT_EQ(by_format[name].count("ALERT_KIND_ROUTE_DEVIATION"), 1u) << name;
    ASSERT_EQ(r.stops_size(), 3) << name;
    EXPECT_EQ(r.stops(1).stop_id(), "S2");
    EXPECT_EQ(r.stops(1).status(), cit::v1::STOP_STATUS_DEPARTED) << name;
  }
  for (const auto& [name, alerts] : by_format) {
    EXPECT_EQ(alerts, by_format["drive.csv"]) << name << " differs from the CSV";
  }

  // The stored run, judged again by an auditor against its own plan: the records carry the
  // doors too, so the door opened away from every stop is there as well.
  const cit::v1::CheckPlanResponse stored =
      Check("aude", std::string(sc::kRun) + " --run " + sc::kRun);
  const auto stored_alerts = Alerts(stored);
  EXPECT_EQ(stored.plan_run_id(), sc::kRun);
  EXPECT_EQ(stored_alerts.count("ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP"), 1u);
  EXPECT_EQ(stored_alerts.at("ALERT_KIND_ROUTE_DEVIATION"),
            by_format["drive.csv"].at("ALERT_KIND_ROUTE_DEVIATION"));

  // The table, as a dispatcher sees it (README, "plan check").
  ASSERT_EQ(Ctl("dora", "plan check " + plan + " --track " + (dir_ / "drive.csv").string()), 0)
      << err_;
  std::cout << "$ dispatchctl plan check plan.json --track drive.csv\n" << out_;
  EXPECT_NE(out_.find("ROUTE_DEVIATION"), std::string::npos) << out_;
  EXPECT_NE(out_.find("Stops (3)"), std::string::npos) << out_;

  EXPECT_EQ(ServerRecordOfTheRun(), before) << "plan check changed what the server keeps";
  // Operators watch and act on alerts; checking plans is for dispatchers and auditors.
  EXPECT_EQ(Ctl("olga", std::string("plan check ") + sc::kRun + " --run " + sc::kRun), 4);
}

// A track file refused before anything is asked of the server's store: SQLite only.
class PlanCheckFileTest : public PlanCheckE2eTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, PlanCheckFileTest, ::testing::Values("sqlite"),
                         cit::test::BackendParamName);

TEST_P(PlanCheckFileTest, MalformedTrackFileIsRefusedNamingTheLine) {
  const std::string plan = WritePlanJson();
  const std::string bad = Write("bad.csv",
                                "time,lat,lon\n2026-01-15T08:00:00Z,47.37,8.5\n"
                                "2026-01-15T08:00:01Z,147.37,8.5\n");
  EXPECT_EQ(Ctl("dora", "plan check " + plan + " --track " + bad), 2);
  EXPECT_NE(err_.find("bad.csv:3: latitude 147.37 is outside [-90, 90]"), std::string::npos)
      << err_;
  EXPECT_EQ(Ctl("dora", "plan check " + plan), 2) << "neither --track nor --run";
}

TEST_P(PlanCheckE2eTest, UnknownVehicleIsRefusedUnlessForcedAndStopsWithoutWindowWarn) {
  std::string plan = ReadFile(WritePlanJson());
  const std::string vehicle = "\"vehicle_id\":\"" + std::string(sc::kVehicle) + "\"";
  ASSERT_NE(plan.find(vehicle), std::string::npos) << plan;
  plan.replace(plan.find(vehicle), vehicle.size(), "\"vehicle_id\":\"CIT-0O01\"");  // O for 0
  const auto start = plan.find("\"arrival_latest\"");
  ASSERT_NE(start, std::string::npos);
  plan.replace(start, plan.find(',', start) - start + 1, "");  // S1 loses its window end
  const std::string file = Write("typo.json", plan);
  EXPECT_EQ(Ctl("dora", "plan create " + file), 6);
  EXPECT_NE(err_.find("vehicle 'CIT-0O01' has never been seen by this server"), std::string::npos)
      << err_;
  EXPECT_NE(err_.find("warning: stops[0] S1 \"Depot Zurich\": no arrival window"),
            std::string::npos)
      << err_;
  EXPECT_EQ(Ctl("dora", "plan create --force " + file), 0) << err_;
}

// ---- a real drive ---------------------------------------------------------------------------

TEST_P(PlanCheckE2eTest, RealDriveOnTheWrongRouteAsFileAndAsStoredRun) {
  CIT_SKIP_WITHOUT_KUBICKA("00000010");
  CIT_SKIP_WITHOUT_KUBICKA("00000016");
  // Route of drive 10, the drive of 16: on route 712 s, then off three times, up to 723 m
  // (../shared/data/SOURCES.md). Times end 60 s before now, as the server's clock is live.
  auto track = [&](const std::string& id) {
    std::vector<Fix> out;
    for (const cit::test::TracePoint& p : cit::test::KubickaTrack(id)) {
      out.push_back({static_cast<int64_t>(p.t_s), p.lat_deg, p.lon_deg});
    }
    const int64_t shift = std::time(nullptr) - 60 - out.back().t_s;
    for (Fix& f : out) f.t_s += shift;
    return out;
  };
  const std::vector<Fix> drive16 = track("00000016");
  std::ostringstream route;
  route.precision(10);
  route << "[";
  for (const cit::test::LatLon& p : cit::test::KubickaRoute("00000010")) {
    route << (route.tellp() > 1 ? "," : "") << "[" << p.lon_deg << "," << p.lat_deg << "]";
  }
  route << "]";
  // The depot is where drive 16 starts (it stands there 5.5 minutes); nobody checks in. The
  // planned start opens the run's record window (audit's RunWindow) before the first fix.
  std::ostringstream plan;
  plan.precision(10);
  plan << "{\"run_id\":\"KUB-16\",\"vehicle_id\":\"" << sc::kVehicle << "\","
       << "\"planned_start\":\"" << Iso(drive16.front().t_s - 60) << "\","
       << "\"route\":{\"points\":" << route.str() << ",\"corridor_half_width_m\":40},"
       << "\"stops\":[{\"stop_id\":\"DEPOT\",\"lat\":" << drive16.front().lat
       << ",\"lon\":" << drive16.front().lon << ",\"radius_m\":60,\"arrival_latest\":\""
       << Iso(drive16.front().t_s + 600) << "\"}],"
       << "\"limits\":{\"min_crew\":0}}";
  const std::string plan_file = Write("kub16.json", plan.str());

  const cit::v1::CheckPlanResponse as_file =
      Check("dora", plan_file + " --track " + Write("drive16.csv", Csv(drive16)));
  EXPECT_EQ(as_file.fixes(), drive16.size());
  const auto file_alerts = Alerts(as_file);
  ASSERT_EQ(file_alerts.count("ALERT_KIND_ROUTE_DEVIATION"), 1u) << as_file.DebugString();
  // First off-route stretch starts 712 s in; raised after >= 10 s and 2 fixes off.
  const int64_t raised = *file_alerts.at("ALERT_KIND_ROUTE_DEVIATION").begin();
  EXPECT_GE(raised - drive16.front().t_s, 700);
  EXPECT_LE(raised - drive16.front().t_s, 760);

  // Drive 10 on its own route: no deviation (the true negative).
  const cit::v1::CheckPlanResponse own =
      Check("dora", plan_file + " --track " + Write("drive10.csv", Csv(track("00000010"))));
  EXPECT_EQ(Alerts(own).count("ALERT_KIND_ROUTE_DEVIATION"), 0u) << own.DebugString();

  // The same drive stored under a dispatched run, then checked from the server's records.
  ASSERT_EQ(Ctl("dora", "plan create --force " + plan_file), 0) << err_;
  ASSERT_EQ(Ctl("dora", "plan dispatch KUB-16"), 0) << err_;
  std::vector<cit::v1::Record> records;
  for (std::size_t i = 0; i < drive16.size(); ++i) {
    records.push_back(FixRecord(
        sc::kVehicle, i + 1, google::protobuf::util::TimeUtil::SecondsToTimestamp(drive16[i].t_s),
        drive16[i].lat, drive16[i].lon));
  }
  Inject(records);
  const cit::v1::CheckPlanResponse as_run = Check("aude", "KUB-16 --run KUB-16");
  EXPECT_EQ(as_run.fixes(), drive16.size());
  EXPECT_EQ(Alerts(as_run).at("ALERT_KIND_ROUTE_DEVIATION"),
            file_alerts.at("ALERT_KIND_ROUTE_DEVIATION"));
}

}  // namespace
}  // namespace cit::test
