// End to end with real parts: gpsfake replays a real receiver capture into gpsd -> the built
// vehicle-agent -> the built dispatch-server (mTLS, certificates from deploy/make-certs.sh) ->
// SQLite. `gpspipe -w` watches the same gpsd and is the reference for what the agent must store.
//
// What a "fix" is, on both sides: a TPV with mode >= 2 and finite lat/lon, new when its time
// differs from the previous one (or, without time, its position) — the de-duplication rule of
// FixTracker, because gpsd repeats the last fix in several reports per cycle.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "cit/v1/telemetry.pb.h"
#include "tests/support/test_env.h"

namespace cit::agent {
namespace {

using namespace std::chrono_literals;

constexpr const char* kVehicle = "CIT-0001";

struct TrackFix {
  int64_t time_ns = 0;  // receiver time; 0 when the report had none
  double lat = 0, lon = 0;
};

bool SameFix(const TrackFix& a, const TrackFix& b) {
  return a.time_ns == b.time_ns && std::fabs(a.lat - b.lat) < 1e-9 &&
         std::fabs(a.lon - b.lon) < 1e-9;
}

std::string Describe(const TrackFix& f) {
  return std::to_string(f.time_ns) + " " + std::to_string(f.lat) + "," + std::to_string(f.lon);
}

int64_t ParseIsoNs(const std::string& iso) {
  // "2018-08-20T09:47:37.000Z"
  std::tm tm{};
  double frac = 0;
  int y, mo, d, h, mi;
  double s;
  if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%lfZ", &y, &mo, &d, &h, &mi, &s) != 6) return 0;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = static_cast<int>(s);
  frac = s - tm.tm_sec;
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000'000 + std::llround(frac * 1e9);
}

// The reference: fixes as gpspipe -w saw them, de-duplicated like the agent does.
std::vector<TrackFix> ExpectedFixes(const std::filesystem::path& gpspipe_json) {
  std::vector<TrackFix> out;
  std::ifstream in(gpspipe_json);
  std::string line;
  std::optional<TrackFix> last;
  while (std::getline(in, line)) {
    if (line.find("\"class\":\"TPV\"") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || j.value("mode", 0) < 2 || !j.contains("lat") || !j.contains("lon")) {
      continue;
    }
    TrackFix f;
    f.lat = j["lat"].get<double>();
    f.lon = j["lon"].get<double>();
    if (j.contains("time")) f.time_ns = ParseIsoNs(j["time"].get<std::string>());
    if (last && f.time_ns != 0 && f.time_ns == last->time_ns) continue;
    if (last && f.time_ns == 0 && f.lat == last->lat && f.lon == last->lon) continue;
    last = f;
    out.push_back(f);
  }
  return out;
}

struct Stored {
  std::vector<uint64_t> seqs;
  std::vector<cit::v1::Record> records;
  std::vector<TrackFix> fixes;
};

Stored ReadStore(const std::filesystem::path& db) {
  Stored s;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return s;
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(h, "SELECT seq, body FROM records WHERE vehicle_id = ?1 ORDER BY seq", -1, &q,
                     nullptr);
  sqlite3_bind_text(q, 1, kVehicle, -1, SQLITE_STATIC);
  while (q != nullptr && sqlite3_step(q) == SQLITE_ROW) {
    s.seqs.push_back(static_cast<uint64_t>(sqlite3_column_int64(q, 0)));
    cit::v1::Record r;
    r.ParseFromArray(sqlite3_column_blob(q, 1), sqlite3_column_bytes(q, 1));
    if (r.has_fix()) {
      TrackFix f;
      const auto& t = r.fix().time_suspect() ? r.fix().receiver_time() : r.event_time();
      f.time_ns = t.seconds() * 1'000'000'000 + t.nanos();
      f.lat = r.fix().lat_deg();
      f.lon = r.fix().lon_deg();
      s.fixes.push_back(f);
    }
    s.records.push_back(std::move(r));
  }
  sqlite3_finalize(q);
  sqlite3_close(h);
  return s;
}

// What the agent has journalled so far, read from its segment files while it runs (the frame
// format of vehicle-agent/journal.h: [u32 length][u32 CRC][Record], little endian). A frame the
// agent is still writing ends the scan. Tests wait on this instead of sleeping: "the journal
// holds record N" is the event the agent has processed everything before N.
struct Journalled {
  uint64_t highest_seq = 0;
  std::vector<TrackFix> fixes;
};

Journalled ReadJournal(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> segs;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".seg") segs.push_back(e.path());
  }
  std::sort(segs.begin(), segs.end());  // names are zero-padded first seqs
  Journalled j;
  for (const auto& seg : segs) {
    const std::string bytes = test::ReadFile(seg);
    size_t pos = 0;
    while (pos + 8 <= bytes.size()) {
      uint32_t len = 0;
      std::memcpy(&len, bytes.data() + pos, 4);
      if (pos + 8 + len > bytes.size()) break;
      cit::v1::Record r;
      if (!r.ParseFromArray(bytes.data() + pos + 8, static_cast<int>(len))) break;
      pos += 8 + len;
      j.highest_seq = std::max(j.highest_seq, r.seq());
      if (r.has_fix()) {
        const auto& t = r.fix().time_suspect() ? r.fix().receiver_time() : r.event_time();
        j.fixes.push_back(
            {t.seconds() * 1'000'000'000 + t.nanos(), r.fix().lat_deg(), r.fix().lon_deg()});
      }
    }
  }
  return j;
}

// How long the outage test keeps the server down, counted in fixes the agent journals meanwhile
// (an event, not a duration). CIT_E2E_OUTAGE_FIXES lengthens it for a manual run.
size_t OutageFixes() {
  const char* v = std::getenv("CIT_E2E_OUTAGE_FIXES");
  return v != nullptr ? std::strtoul(v, nullptr, 10) : 25;
}

bool PortOpen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class AgentE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string certs = (dir_ / "certs").string();
    const std::string cmd = "bash " + test::SourcePath("deploy/make-certs.sh").string() + " " +
                            certs + " " + kVehicle + " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    server_port_ = test::FreeTcpPort();
    gps_port_ = test::FreeTcpPort();
    // Chosen once, while the telemetry port is taken by nobody else in this test: picked afresh
    // at a restart, the kernel can hand out the telemetry port the stopped server just freed.
    do {
      operator_port_ = test::FreeTcpPort();
    } while (operator_port_ == server_port_ || operator_port_ == gps_port_);
    journal_ = dir_ / "journal";
    db_ = dir_ / "dispatch.db";
  }

  // gpsfake -1 -q -n -c CYCLE -W 5 -P PORT LOG (SOURCES.md), then gpspipe -w on the same gpsd.
  void StartReplay(const std::string& capture, const std::string& cycle) {
    gpsfake_ = std::make_unique<test::Process>(
        std::vector<std::string>{"gpsfake", "-1", "-q", "-n", "-c", cycle, "-W", "5", "-P",
                                 std::to_string(gps_port_),
                                 test::RepoData("gpsd/" + capture).string()},
        dir_ / "gpsfake.log");
    ASSERT_TRUE(test::WaitFor([&] { return PortOpen(gps_port_); }, 20s)) << "gpsd never listened";
    // Listening there and gone means its gpsd could not bind: someone else holds the port.
    ASSERT_TRUE(gpsfake_->Running()) << "gpsfake exited at start:\n"
                                     << test::ReadFile(dir_ / "gpsfake.log");
    gpspipe_ = std::make_unique<test::Process>(
        std::vector<std::string>{"gpspipe", "-w", "127.0.0.1:" + std::to_string(gps_port_)},
        dir_ / "gpspipe.json");
  }

  void WaitReplayDone(std::chrono::seconds timeout) {
    ASSERT_TRUE(test::WaitFor([&] { return !gpsfake_->Running(); }, timeout))
        << "gpsfake still running";
    gpspipe_->WaitExit(5s);
    gpspipe_->Kill();
  }

  void StartServer() {
    server_ = std::make_unique<test::Process>(
        std::vector<std::string>{test::BuiltProgram("dispatch-server/dispatch-server").string(),
                                 "--telemetry-listen", "127.0.0.1:" + std::to_string(server_port_),
                                 "--operator-listen", "127.0.0.1:" + std::to_string(operator_port_),
                                 "--metrics-listen", "", "--http-listen", "", "--database",
                                 db_.string(), "--tls-ca", (dir_ / "certs/ca.crt").string(),
                                 "--tls-cert", (dir_ / "certs/server.crt").string(), "--tls-key",
                                 (dir_ / "certs/server.key").string()},
        dir_ / "server.log");
    ASSERT_TRUE(test::WaitFor([&] { return PortOpen(server_port_); }, 20s))
        << test::ReadFile(dir_ / "server.log");
  }
  void StopServer() {
    server_->Signal(SIGKILL);
    server_->Kill();
    server_.reset();
  }

  void StartAgent(const std::vector<std::string>& extra_args = {}) {
    const auto cfg = dir_ / "agent.toml";
    std::ofstream(cfg) << "vehicle_id = \"" << kVehicle << "\"\n"
                       << "heartbeat_interval_s = 0\n"
                       << "[journal]\ndir = \"" << journal_.string() << "\"\n"
                       << "[gps]\nhost = \"127.0.0.1\"\nport = \"" << gps_port_ << "\"\n"
                       << "reconnect_min_ms = 50\nreconnect_max_ms = 200\n"
                       << "[sensors]\nsocket_path = \"" << (dir_ / "sensors.sock").string()
                       << "\"\n"
                       << "[uplink]\nserver = \"localhost:" << server_port_ << "\"\n"
                       << "ca_file = \"" << (dir_ / "certs/ca.crt").string() << "\"\n"
                       << "cert_file = \"" << (dir_ / "certs" / kVehicle).string() << ".crt\"\n"
                       << "key_file = \"" << (dir_ / "certs" / kVehicle).string() << ".key\"\n"
                       << "backoff_initial_ms = 100\nbackoff_max_ms = 1000\n";
    std::vector<std::string> argv{test::BuiltProgram("vehicle-agent/vehicle-agent").string(),
                                  "--config", cfg.string(), "--log-level", "debug"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    agent_ = std::make_unique<test::Process>(argv, dir_ / "agent.log");
  }

  // Everything the agent journalled is stored: its journal is fully acknowledged.
  bool JournalDrained() {
    for (const auto& e : std::filesystem::directory_iterator(journal_)) {
      if (e.path().extension() == ".seg") return false;
    }
    return true;
  }

  void ExpectContiguousSeqs(const Stored& s) {
    ASSERT_FALSE(s.seqs.empty());
    for (size_t i = 0; i < s.seqs.size(); ++i) {
      ASSERT_EQ(s.seqs[i], i + 1) << "hole or duplicate in stored seqs at index " << i;
    }
  }

  void ExpectSameTrack(const std::vector<TrackFix>& expected, const std::vector<TrackFix>& got) {
    ASSERT_FALSE(expected.empty());
    ASSERT_EQ(got.size(), expected.size())
        << "stored " << got.size() << " fixes, gpspipe saw " << expected.size();
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_TRUE(SameFix(expected[i], got[i]))
          << "fix " << i << ": expected " << Describe(expected[i]) << " got " << Describe(got[i]);
    }
  }

  // What every part said, and what gpsd itself reported to gpspipe: when the agent stored no fix,
  // this tells a replay that never produced one (gpsfake, gpsd) from an agent that lost them.
  std::string Logs() {
    std::string replay = "--- replay ---\n";
    if (gpsfake_) {
      replay += std::string("gpsfake ") + (gpsfake_->Running() ? "still running" : "exited") +
                "; gpspipe saw " + std::to_string(ExpectedFixes(dir_ / "gpspipe.json").size()) +
                " fixes\n--- gpsfake.log ---\n" + test::ReadFile(dir_ / "gpsfake.log") + "\n";
    }
    return replay + "--- agent.log ---\n" + test::ReadFile(dir_ / "agent.log") +
           "\n--- server.log ---\n" + test::ReadFile(dir_ / "server.log");
  }

  test::TempDir dir_;
  int server_port_ = 0, gps_port_ = 0, operator_port_ = 0;
  std::filesystem::path journal_, db_;
  std::unique_ptr<test::Process> gpsfake_, gpspipe_, server_, agent_;
};

TEST_F(AgentE2eTest, EveryFixGpspipeReportsIsStoredExactlyOnce) {
  StartServer();
  StartReplay("haicom-305N.log", "0.05");
  StartAgent();
  WaitReplayDone(120s);
  ASSERT_TRUE(test::WaitFor([&] { return JournalDrained(); }, 30s)) << Logs();
  const auto expected = ExpectedFixes(dir_ / "gpspipe.json");
  const Stored s = ReadStore(db_);
  ExpectContiguousSeqs(s);
  ExpectSameTrack(expected, s.fixes);
  // The GNSS state was recorded too: gpsd connected, fix acquired.
  std::set<int> states;
  for (const auto& r : s.records) {
    if (r.has_gnss()) states.insert(r.gnss().state());
  }
  EXPECT_TRUE(states.count(cit::v1::GNSS_STATE_GPSD_CONNECTED));
  EXPECT_TRUE(states.count(cit::v1::GNSS_STATE_FIX_ACQUIRED));
}

TEST_F(AgentE2eTest, KillNineMidRunAndRestartLosesNothingAndStoresNothingTwice) {
  StartServer();
  StartReplay("navisys-gr701w.log", "0.05");
  StartAgent();
  // Mid-run: once some fixes are stored, SIGKILL the agent and restart it on the same journal.
  ASSERT_TRUE(test::WaitFor([&] { return ReadStore(db_).fixes.size() >= 10; }, 60s)) << Logs();
  agent_->Kill();
  const size_t journalled_before = ReadStore(db_).seqs.size();
  StartAgent();
  WaitReplayDone(120s);
  ASSERT_TRUE(test::WaitFor([&] { return JournalDrained(); }, 30s)) << Logs();
  const Stored s = ReadStore(db_);
  ExpectContiguousSeqs(s);  // nothing journalled was lost, nothing stored twice
  EXPECT_GT(s.seqs.size(), journalled_before);
  // Every stored fix is one gpsd reported, in order; the only fixes missing are the ones gpsd
  // reported while the agent was dead (and before it first connected).
  const auto expected = ExpectedFixes(dir_ / "gpspipe.json");
  size_t e = 0, gaps = 0;
  bool in_gap = false;
  for (const auto& f : s.fixes) {
    size_t start = e;
    while (e < expected.size() && !SameFix(expected[e], f)) ++e;
    ASSERT_LT(e, expected.size()) << "stored fix not reported by gpsd: " << Describe(f);
    if (e > start) {
      if (!in_gap) ++gaps;
      in_gap = true;
    } else {
      in_gap = false;
    }
    ++e;
  }
  // At most two runs: fixes gpspipe saw before the agent's first connection (start-up race),
  // and the ones gpsd reported while the agent was dead.
  EXPECT_LE(gaps, 2u);
  EXPECT_GE(s.fixes.size() + 15, expected.size()) << "more fixes missing than a restart explains";
  // Two boots of the agent are visible in the records.
  std::set<uint32_t> boots;
  for (const auto& r : s.records) boots.insert(r.agent_boot());
  EXPECT_EQ(boots.size(), 2u);
}

TEST_F(AgentE2eTest, ServerDownWhileFixesArriveAgentBuffersThenDrainsTheWholeTrack) {
  StartServer();
  // bundg_zeus_9 (147 fixes) at 0.01 s per sentence replays in ~50 s: the outage sits inside it.
  StartReplay("bundg_zeus_9.log", "0.01");
  StartAgent();
  ASSERT_TRUE(test::WaitFor([&] { return ReadStore(db_).fixes.size() >= 5; }, 60s)) << Logs();
  StopServer();
  const size_t before = ReadStore(db_).seqs.size();
  // The outage lasts until the agent has journalled OutageFixes() more fixes with nobody to
  // send them to (~0.35 s each; the agent retries every <= 1 s meanwhile).
  const size_t journalled_at_outage = ReadJournal(journal_).fixes.size();
  ASSERT_TRUE(test::WaitFor(
      [&] { return ReadJournal(journal_).fixes.size() >= journalled_at_outage + OutageFixes(); },
      120s))
      << Logs();
  EXPECT_NE(test::ReadFile(dir_ / "agent.log").find("buffering in the journal"), std::string::npos)
      << "the agent noticed the outage";
  EXPECT_EQ(ReadStore(db_).seqs.size(), before) << "nothing stored while the server was down";
  StartServer();
  WaitReplayDone(300s);
  ASSERT_TRUE(test::WaitFor([&] { return JournalDrained(); }, 60s)) << Logs();
  const Stored s = ReadStore(db_);
  EXPECT_GT(s.seqs.size(), before + 20);
  ExpectContiguousSeqs(s);
  ExpectSameTrack(ExpectedFixes(dir_ / "gpspipe.json"), s.fixes);
}

TEST_F(AgentE2eTest, JournalWithTornTailIsRecoveredAndDelivered) {
  // Server absent: everything stays in the journal.
  StartReplay("nl2008u.log", "0.05");
  StartAgent();
  WaitReplayDone(120s);
  // Kill only once the agent has journalled every fix gpsd reported (written is enough: a
  // SIGKILL, unlike a power cut, keeps what reached the page cache).
  const size_t reported = ExpectedFixes(dir_ / "gpspipe.json").size();
  ASSERT_GT(reported, 0u);
  ASSERT_TRUE(test::WaitFor([&] { return ReadJournal(journal_).fixes.size() >= reported; }, 30s))
      << Logs();
  agent_->Kill();
  // Power cut mid-append: half a frame at the end of the newest segment.
  std::vector<std::filesystem::path> segs;
  for (const auto& e : std::filesystem::directory_iterator(journal_)) {
    if (e.path().extension() == ".seg") segs.push_back(e.path());
  }
  ASSERT_FALSE(segs.empty());
  std::sort(segs.begin(), segs.end());
  {
    std::ofstream out(segs.back(), std::ios::binary | std::ios::app);
    const char torn[] = {0x30, 0x00, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x08, 0x01, 0x12};
    out.write(torn, sizeof torn);
  }
  StartServer();
  StartAgent();
  ASSERT_TRUE(test::WaitFor([&] { return JournalDrained(); }, 30s)) << Logs();
  EXPECT_NE(test::ReadFile(dir_ / "agent.log").find("torn or corrupt record"), std::string::npos);
  const Stored s = ReadStore(db_);
  ExpectContiguousSeqs(s);
  ExpectSameTrack(ExpectedFixes(dir_ / "gpspipe.json"), s.fixes);
}

TEST_F(AgentE2eTest, SensorSocketEventsReachTheStore) {
  StartServer();
  StartAgent({"--no-gps"});
  ASSERT_TRUE(test::WaitFor([&] { return std::filesystem::exists(dir_ / "sensors.sock"); }));
  const std::string cmd =
      "printf 'door 1 open\\nbogus\\nseal 2 broken\\npanic\\ncrew 4711 in\\n'"
      " | timeout 60 python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX);"
      " s.connect('" +
      (dir_ / "sensors.sock").string() +
      "'); s.sendall(sys.stdin.buffer.read()); f=s.makefile();"
      " print(''.join(f.readline() for _ in range(5)), end='')\" > " +
      (dir_ / "replies.txt").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);  // one reply per line, read until all five are in
  const std::string replies = test::ReadFile(dir_ / "replies.txt");
  EXPECT_EQ(replies.substr(0, 5), "ok 1\n") << replies;
  EXPECT_NE(replies.find("\nerror "), std::string::npos) << replies;
  EXPECT_NE(replies.find("ok 4\n"), std::string::npos) << replies;
  ASSERT_TRUE(test::WaitFor([&] { return ReadStore(db_).records.size() == 4; }, 20s)) << Logs();
  const Stored s = ReadStore(db_);
  EXPECT_TRUE(s.records[0].has_door());
  EXPECT_TRUE(s.records[1].has_seal());
  EXPECT_TRUE(s.records[2].has_panic());
  EXPECT_EQ(s.records[3].crew().badge_id(), "4711");
}

}  // namespace
}  // namespace cit::agent
