// dispatchctl as the people in a control room use it (issue 14 §3), against a live server:
// alert history with filters, global options anywhere on the line, runs in natural order,
// `watch` in local time with the place and a bell for critical alerts, and — in a real terminal
// driven through tmux — a night-shift session typed key by key: watch, a panic arrives, the
// operator acknowledges it from a second pane, checks the fleet and the alert history. The alert
// history and the track also run on PostgreSQL (Backends/CliPeopleTest.<case>/postgresql).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/ctl/live_server_fixture.h"

namespace cit::test {
namespace {

namespace sc = scenario;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

class CliPeopleTest : public cit::test::BackendLiveServerTest {
 protected:
  // Streams a panic from the scenario's truck, one second after its last record.
  void InjectPanic() {
    const std::vector<cit::v1::Record> records = sc::MakeRecords(base_);
    cit::v1::Record panic;
    panic.set_vehicle_id(sc::kVehicle);
    panic.set_seq(records.back().seq() + 1);
    *panic.mutable_event_time() = Plus(records.back().event_time(), 1);
    *panic.mutable_agent_time() = panic.event_time();
    panic.mutable_panic()->set_source("gpio:17");
    Inject({panic});
  }

  // The plan file of the scenario under another run id and vehicle.
  std::string PlanFileFor(const std::string& run, const std::string& vehicle) {
    std::string json = ReadFile(WritePlanJson());
    for (const auto& [from, to] :
         {std::pair<std::string, std::string>{sc::kRun, run}, {sc::kVehicle, vehicle}}) {
      for (auto at = json.find(from); at != std::string::npos; at = json.find(from, at)) {
        json.replace(at, from.size(), to);
        at += to.size();
      }
    }
    const auto path = dir_ / (run + ".json");
    std::ofstream(path) << json;
    return path.string();
  }
};

// The alert history and the track read what the store keeps: on both backends. The rest test
// the CLI's presentation (plan list, watch, bell, the terminal sessions through tmux): SQLite
// only, to keep CI's time; the watch and its resumption on PostgreSQL are CliE2eTest's.
INSTANTIATE_TEST_SUITE_P(Backends, CliPeopleTest, ::testing::Values("sqlite", "postgresql"),
                         cit::test::BackendParamName);
class CliPeopleSqliteTest : public CliPeopleTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, CliPeopleSqliteTest, ::testing::Values("sqlite"),
                         cit::test::BackendParamName);

// Sets TZ for the dispatchctl runs of one test (they inherit the environment).
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
  }
  ~ScopedTimeZone() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST_P(CliPeopleTest, AlertsListFiltersAndShowsWhoHandledEachAlert) {
  RunScenario();
  const uint64_t door = FirstAlertId("DOOR_OPEN_OUTSIDE_STOP");
  ASSERT_EQ(Ctl("olga", "ack " + std::to_string(door) + " -c 'crew called'"), 0) << err_;

  ASSERT_EQ(Ctl("aude", "alerts list --state acknowledged"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("#" + std::to_string(door)));
  EXPECT_THAT(out_, HasSubstr("olga"));
  EXPECT_THAT(out_, Not(HasSubstr("ROUTE_DEVIATION")));

  // One alert's history: every event in order, who did it, what they said.
  ASSERT_EQ(Ctl("aude", "alerts history " + std::to_string(door)), 0) << err_;
  EXPECT_THAT(out_, ContainsRegex("\n[^\n]* RAISED +system +CRITICAL +door 1 opened"));
  EXPECT_THAT(out_, ContainsRegex("\n[^\n]* CLEARED +system +CRITICAL "));
  EXPECT_THAT(out_, ContainsRegex("\n[^\n]* ACKNOWLEDGED +olga +CRITICAL +\"crew called\""));
  EXPECT_LT(out_.find(" RAISED "), out_.find(" ACKNOWLEDGED  olga")) << out_;
  EXPECT_EQ(Ctl("aude", "alerts history 987654321"), 5) << out_;
  EXPECT_THAT(err_, HasSubstr("987654321"));

  ASSERT_EQ(Ctl("aude", "alerts list --kind route_deviation --utc"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("ROUTE_DEVIATION"));
  EXPECT_THAT(out_, Not(HasSubstr("DOOR_OPEN_OUTSIDE_STOP")));
  EXPECT_THAT(out_, HasSubstr("Z  "));  // RFC 3339 UTC times
  // Where: the nearest stop and the progress along the route, from the run's plan.
  EXPECT_THAT(out_, HasSubstr("PLACE"));
  EXPECT_THAT(out_, HasSubstr("470 m from S1 Depot Zurich, 0.4 of 2.0 km along the route, 330 m "
                              "off route"));

  // --json after the subcommand: one Alert per line, all of the run.
  ASSERT_EQ(Ctl("aude", std::string("alerts list --run ") + sc::kRun + " --json"), 0) << err_;
  std::istringstream lines(out_);
  int parsed = 0;
  for (std::string line; std::getline(lines, line);) {
    cit::v1::Alert a;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &a).ok()) << line;
    EXPECT_EQ(a.run_id(), sc::kRun);
    ++parsed;
  }
  EXPECT_GE(parsed, 2) << out_;

  ASSERT_EQ(Ctl("aude", "alerts list --vehicle CIT-9999"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("No alerts match."));
  EXPECT_EQ(Ctl("aude", "alerts list --kind PANICKED"), 2);
  EXPECT_THAT(err_, HasSubstr("--kind PANICKED is not an alert kind; one of: "));
  EXPECT_THAT(err_, HasSubstr("PANIC"));
  EXPECT_EQ(Ctl("aude", "alerts list --state closed"), 2);
  EXPECT_THAT(err_, HasSubstr("--state must be open, acknowledged or resolved"));
}

TEST_P(CliPeopleTest, TrackPrintsTheRunsRecordsOneLineEachAndRefusesAmbiguousRanges) {
  RunScenario();
  const std::vector<cit::v1::Record> records = sc::MakeRecords(base_);
  ASSERT_EQ(Ctl("aude", std::string("track --run ") + sc::kRun + " --utc"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("TIME"));
  EXPECT_THAT(out_, HasSubstr("DOOR 1 OPEN"));
  EXPECT_THAT(out_, HasSubstr(std::to_string(records.size()) + " records ("));
  // One line per record between the header and the summary.
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), static_cast<long>(records.size()) + 2)
      << out_;

  // A vehicle between two times, as JSON lines: every record once, in event-time order.
  const std::string from = google::protobuf::util::TimeUtil::ToString(base_);
  const std::string to = google::protobuf::util::TimeUtil::ToString(Plus(base_, 3600));
  ASSERT_EQ(Ctl("aude", std::string("track --json --vehicle ") + sc::kVehicle + " --from " + from +
                            " --to " + to),
            0)
      << err_;
  std::istringstream lines(out_);
  std::set<uint64_t> seqs;
  for (std::string line; std::getline(lines, line);) {
    cit::v1::StoredRecord r;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &r).ok()) << line;
    EXPECT_EQ(r.record().vehicle_id(), sc::kVehicle);
    EXPECT_FALSE(r.chain_hash().empty());
    seqs.insert(r.record().seq());
  }
  EXPECT_EQ(seqs.size(), records.size());

  EXPECT_EQ(Ctl("aude", std::string("track --run ") + sc::kRun + " --vehicle " + sc::kVehicle), 2);
  EXPECT_THAT(err_, HasSubstr("name either --run or --vehicle"));
  EXPECT_EQ(Ctl("aude", std::string("track --vehicle ") + sc::kVehicle + " --from " + from), 2);
  EXPECT_THAT(err_, HasSubstr("--vehicle needs --from and --to"));
  EXPECT_EQ(Ctl("aude",
                std::string("track --vehicle ") + sc::kVehicle + " --from " + to + " --to " + from),
            2);
  EXPECT_THAT(err_, HasSubstr("--to is before --from"));
  EXPECT_EQ(
      Ctl("aude", std::string("track --vehicle ") + sc::kVehicle + " --from yesterday --to today"),
      2);
  EXPECT_THAT(err_, HasSubstr("RFC 3339"));
  EXPECT_EQ(Ctl("aude", "track --run RUN-NOT-THERE"), 5) << err_;
  ASSERT_EQ(Ctl("aude", "track --vehicle CIT-9999 --from 2026-01-01 --to 2026-01-02"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("No records in this range."));
}

TEST_P(CliPeopleSqliteTest, PlanListIsInNaturalOrderAndFiltersByState) {
  for (const char* run : {"RUN-12", "RUN-3", "RUN-100"}) {
    ASSERT_EQ(Ctl("dora", "plan create --force " + PlanFileFor(run, std::string("CIT-") + run)), 0)
        << err_;
  }
  ASSERT_EQ(Ctl("dora", "plan dispatch RUN-12"), 0) << err_;
  ASSERT_EQ(Ctl("aude", "plan list"), 0) << err_;
  const auto at = [&](const char* id) { return out_.find(std::string(id) + " "); };
  ASSERT_NE(at("RUN-3"), std::string::npos) << out_;
  EXPECT_LT(at("RUN-3"), at("RUN-12")) << out_;
  EXPECT_LT(at("RUN-12"), at("RUN-100")) << out_;

  ASSERT_EQ(Ctl("aude", "plan list --state dispatched --json"), 0) << err_;
  cit::v1::ListRunsResponse runs;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_, &runs).ok()) << out_;
  ASSERT_EQ(runs.runs_size(), 1) << out_;
  EXPECT_EQ(runs.runs(0).plan().run_id(), "RUN-12");
  EXPECT_EQ(Ctl("aude", "plan list --state gone"), 2);
  EXPECT_THAT(err_, HasSubstr("--state must be planned, dispatched, active, completed or aborted"));
}

TEST_P(CliPeopleSqliteTest, WatchShowsLocalTimeWithItsZoneAndThePlaceOrUtcOnRequest) {
  RunScenario();
  ScopedTimeZone zone("XYZ-1");  // a zone one hour east of UTC, named XYZ
  ASSERT_EQ(Ctl("olga", "watch --count 2 --for 60"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr(" XYZ  #"));
  EXPECT_THAT(out_, HasSubstr(" at 47.3"));
  EXPECT_THAT(out_, Not(HasSubstr("\a"))) << "no bell when the output is not a terminal";
  // The same first event in UTC is one hour earlier.
  const std::string local = out_.substr(out_.find_first_of("0123456789"), 19);
  ASSERT_EQ(Ctl("olga", "watch --count 2 --utc --for 60"), 0) << err_;
  const std::string utc = out_.substr(out_.find_first_of("0123456789"), 20);
  ASSERT_EQ(utc.back(), 'Z') << out_;
  std::tm l{}, u{};
  ASSERT_NE(strptime(local.c_str(), "%Y-%m-%d %H:%M:%S", &l), nullptr) << local;
  ASSERT_NE(strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &u), nullptr) << utc;
  EXPECT_EQ(timegm(&l) - timegm(&u), 3600) << local << " vs " << utc;

  ASSERT_EQ(Ctl("olga", "watch --count 1 --kind DOOR_OPEN_OUTSIDE_STOP --for 60"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("DOOR_OPEN_OUTSIDE_STOP"));
  EXPECT_THAT(out_, Not(HasSubstr("ROUTE_DEVIATION")));
  // The place in the run's terms: the door opened 400 m east of the depot and 330 m north of
  // the route (tests/ctl/scenario.h).
  EXPECT_THAT(out_, HasSubstr(" at 47.372969,8.505306 (470 m from S1 Depot Zurich, 0.4 of 2.0 km "
                              "along the route, 330 m off route)"));
  ASSERT_EQ(Ctl("olga", "watch --count 1 --kind CREW_INCOMPLETE --for 60"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("(50 m from S1 Depot Zurich, 0.1 of 2.0 km along the route)"));
}

TEST_P(CliPeopleSqliteTest, ACriticalAlertRingsTheBellOnATerminal) {
  RunScenario();
  InjectPanic();
  // script(1) gives dispatchctl a pseudo-terminal, as an operator's shell would.
  const std::string ctl = Quote(BuiltProgram("dispatchctl/dispatchctl").string()) +
                          " --timeout 60 --server localhost:" + std::to_string(operator_port_) +
                          " --ca-file " + Quote((dir_ / "pki" / "ca.crt").string()) +
                          " --token-file " + Quote((dir_ / "olga.token").string());
  const auto run_on_tty = [&](const std::string& args) {
    const std::string cmd = "script -qec " + Quote(ctl + " " + args) + " /dev/null >" +
                            Quote((dir_ / "tty.out").string()) + " 2>&1 </dev/null";
    EXPECT_EQ(Shell(cmd), 0) << cmd << "\n" << ReadFile(dir_ / "tty.out");
    return ReadFile(dir_ / "tty.out");
  };
  std::string out = run_on_tty("watch --count 1 --kind PANIC --color never --for 60");
  EXPECT_THAT(out, HasSubstr("CRITICAL PANIC"));
  EXPECT_THAT(out, HasSubstr("\a"));
  out = run_on_tty("watch --count 1 --kind PANIC --color never --no-bell --for 60");
  EXPECT_THAT(out, HasSubstr("CRITICAL PANIC"));
  EXPECT_THAT(out, Not(HasSubstr("\a")));
}

// ---- a night shift in tmux -------------------------------------------------------------------

// A private tmux server (its own socket), killed when the test ends.
class Tmux {
 public:
  Tmux(const std::filesystem::path& dir, const std::vector<std::string>& env)
      : socket_((dir / "tmux.sock").string()), script_(dir / "operator-shell.sh") {
    // The shell starts with exactly `env`, from a script: tmux's own -e does not reach the
    // first window's shell on every version.
    std::ofstream out(script_);
    out << "exec env -i";
    for (const std::string& e : env) out << " " << Quote(e);
    out << " bash --norc --noprofile\n";
    out.close();
    const std::string cmd = "tmux -S " + Quote(socket_) +
                            " -f /dev/null new-session -d -s shift -x 200 -y 24 " +
                            Quote("bash " + script_.string());
    EXPECT_EQ(Shell(cmd), 0) << cmd;
  }
  // A second pane below the first, with the same shell.
  int SplitBelow() {
    return Run("split-window -v -t shift:0 " + Quote("bash " + script_.string()));
  }
  ~Tmux() { Shell("tmux -S " + Quote(socket_) + " kill-server >/dev/null 2>&1"); }

  int Run(const std::string& args) { return Shell("tmux -S " + Quote(socket_) + " " + args); }
  // Types a line into `pane` as a person would, then Enter.
  void Type(const std::string& pane, const std::string& line) {
    EXPECT_EQ(Run("send-keys -t " + pane + " -l " + Quote(line)), 0);
    EXPECT_EQ(Run("send-keys -t " + pane + " Enter"), 0);
  }
  // What `pane` shows now (text, without colours).
  std::string Screen(const std::string& pane) {
    const std::string file = socket_ + ".screen";
    Run("capture-pane -p -J -t " + pane + " >" + Quote(file));
    return ReadFile(file);
  }
  bool WaitFor(const std::string& pane, const std::string& text) {
    return cit::test::WaitFor([&] { return Screen(pane).find(text) != std::string::npos; },
                              std::chrono::seconds(60));
  }

 private:
  std::string socket_;
  std::filesystem::path script_;
};

// Where a terminal capture goes: the build's screenshots directory, or docs/img with
// CIT_UPDATE_SCREENSHOTS=1 (the console tests do the same with their PNGs).
std::filesystem::path CapturePath(const std::string& name) {
  const char* update = std::getenv("CIT_UPDATE_SCREENSHOTS");
  const std::filesystem::path dir = update != nullptr && std::string(update) == "1"
                                        ? SourcePath("docs/img")
                                        : BuiltProgram("screenshots");
  std::filesystem::create_directories(dir);
  return dir / ("cli-" + name + ".txt");
}

// A screen as a reader sees it: no trailing spaces, no empty lines at the bottom.
std::string Tidy(const std::string& screen) {
  std::istringstream in(screen);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  while (out.ends_with("\n\n")) out.pop_back();
  return out;
}

TEST_P(CliPeopleSqliteTest, NightShiftInATerminal) {
  if (Shell("command -v tmux >/dev/null && command -v script >/dev/null") != 0) {
    GTEST_FAIL() << "tmux and script (bsdutils) are needed: deploy/install-deps.sh installs them";
  }
  RunScenario();
  // The operator's config file, as deploy/README describes: no options on the command line.
  std::ofstream(dir_ / "dispatchctl.toml")
      << "server = \"localhost:" << operator_port_ << "\"\n"
      << "ca_file = \"" << (dir_ / "pki" / "ca.crt").string() << "\"\n"
      << "token_file = \"" << (dir_ / "olga.token").string() << "\"\n";
  const std::string bin = BuiltProgram("dispatchctl").string();
  Tmux tmux(dir_.path(),
            {"PATH=" + bin + ":/usr/bin:/bin", "TZ=CET-1", "PS1=$ ", "HOME=" + dir_.path().string(),
             "CIT_CTL_CONFIG=" + (dir_ / "dispatchctl.toml").string(), "TERM=xterm-256color"});
  ASSERT_EQ(tmux.SplitBelow(), 0);
  const std::string watch_pane = "shift:0.0", work_pane = "shift:0.1";

  tmux.Type(watch_pane, "dispatchctl watch --vehicle CIT-0001");
  ASSERT_TRUE(tmux.WaitFor(watch_pane, "ROUTE_DEVIATION")) << tmux.Screen(watch_pane);
  InjectPanic();
  ASSERT_TRUE(tmux.WaitFor(watch_pane, "CRITICAL PANIC")) << tmux.Screen(watch_pane);
  EXPECT_THAT(tmux.Screen(watch_pane), HasSubstr(" CET  #"));

  // The operator reads the panic's id off the screen and acknowledges it in the other pane.
  const std::string screen = tmux.Screen(watch_pane);
  const auto panic_at = screen.find("CRITICAL PANIC");
  const auto hash = screen.rfind('#', panic_at);
  const std::string id = screen.substr(hash + 1, panic_at - hash - 2);
  tmux.Type(work_pane, "dispatchctl ack " + id + " -c \"crew answered the duress call\"");
  ASSERT_TRUE(tmux.WaitFor(watch_pane, "ACKNOWLEDGED")) << tmux.Screen(watch_pane);
  ASSERT_TRUE(tmux.WaitFor(work_pane, "by olga \"crew answered the duress call\""))
      << tmux.Screen(work_pane);
  tmux.Type(work_pane, "clear; dispatchctl fleet");
  ASSERT_TRUE(tmux.WaitFor(work_pane, "NEXT STOP")) << tmux.Screen(work_pane);
  EXPECT_THAT(tmux.Screen(work_pane), HasSubstr("CIT-0001"));

  std::ofstream(CapturePath("night-shift"))
      << Tidy(tmux.Screen(watch_pane)) << "----- lower pane -----\n"
      << Tidy(tmux.Screen(work_pane));
  tmux.Type(work_pane, "clear; dispatchctl alerts list --state acknowledged");
  ASSERT_TRUE(tmux.WaitFor(work_pane, "PANIC")) << tmux.Screen(work_pane);
  EXPECT_THAT(tmux.Screen(work_pane), HasSubstr("olga"));
}

TEST_P(CliPeopleSqliteTest, AlertBoardAcknowledgesAndResolvesWithTypedComments) {
  RunScenario();
  InjectPanic();
  std::ofstream(dir_ / "dispatchctl.toml")
      << "server = \"localhost:" << operator_port_ << "\"\n"
      << "ca_file = \"" << (dir_ / "pki" / "ca.crt").string() << "\"\n"
      << "token_file = \"" << (dir_ / "olga.token").string() << "\"\n";
  Tmux tmux(dir_.path(),
            {"PATH=" + BuiltProgram("dispatchctl").string() + ":/usr/bin:/bin", "TZ=CET-1",
             "PS1=$ ", "HOME=" + dir_.path().string(),
             "CIT_CTL_CONFIG=" + (dir_ / "dispatchctl.toml").string(), "TERM=xterm-256color"});
  const std::string pane = "shift:0.0";
  tmux.Type(pane, "dispatchctl watch --board");
  // The panic is the newest critical alert: first row, selected.
  ASSERT_TRUE(tmux.WaitFor(pane, "CRITICAL PANIC")) << tmux.Screen(pane);
  ASSERT_TRUE(tmux.WaitFor(pane, "> NEW #4 CRITICAL PANIC")) << tmux.Screen(pane);
  const std::string first = tmux.Screen(pane);
  EXPECT_LT(first.find("PANIC"), first.find("DOOR_OPEN_OUTSIDE_STOP")) << first;
  EXPECT_THAT(first, HasSubstr("critical unacknowledged"));

  // a, a comment, Enter: the panic is acknowledged and says so on the row.
  ASSERT_EQ(tmux.Run("send-keys -t " + pane + " a"), 0);
  ASSERT_TRUE(tmux.WaitFor(pane, "comment (Enter sends, Esc cancels)")) << tmux.Screen(pane);
  tmux.Type(pane, "crew called back, all well");
  ASSERT_TRUE(tmux.WaitFor(pane, "  ACK #4 CRITICAL PANIC")) << tmux.Screen(pane);
  EXPECT_THAT(tmux.Screen(pane), HasSubstr("acknowledged #"));
  std::ofstream(CapturePath("alert-board")) << Tidy(tmux.Screen(pane));

  // The acknowledged panic sorts below the unacknowledged door alert, which is now the top row
  // and selected. r, Enter without a comment: a critical alert needs one, and the server's
  // refusal is on the status line.
  ASSERT_TRUE(tmux.WaitFor(pane, "> NEW #3 CRITICAL DOOR_OPEN_OUTSIDE_STOP")) << tmux.Screen(pane);
  EXPECT_THAT(tmux.Screen(pane), HasSubstr("470 m from S1 Depot Zurich, 0.4 of 2.0 km along"))
      << "the board row says where";
  ASSERT_EQ(tmux.Run("send-keys -t " + pane + " r"), 0);
  ASSERT_TRUE(tmux.WaitFor(pane, "Resolve #3")) << tmux.Screen(pane);
  ASSERT_EQ(tmux.Run("send-keys -t " + pane + " Enter"), 0);
  ASSERT_TRUE(tmux.WaitFor(pane, "could not resolve #3")) << tmux.Screen(pane);

  // Down to the panic, resolve it with a comment: it leaves the board.
  ASSERT_EQ(tmux.Run("send-keys -t " + pane + " Down r"), 0);
  ASSERT_TRUE(tmux.WaitFor(pane, "Resolve #4")) << tmux.Screen(pane);
  tmux.Type(pane, "false alarm: pressed by mistake, confirmed by phone");
  ASSERT_TRUE(tmux.WaitFor(pane, "resolved #4")) << tmux.Screen(pane);
  EXPECT_THAT(tmux.Screen(pane), Not(HasSubstr("PANIC")));
  ASSERT_EQ(tmux.Run("send-keys -t " + pane + " q"), 0);
  ASSERT_TRUE(tmux.WaitFor(pane, "$ ")) << tmux.Screen(pane);
  ASSERT_EQ(Ctl("aude", "alerts list --kind PANIC"), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("RESOLVED"));
  EXPECT_THAT(out_, HasSubstr("olga"));
  EXPECT_EQ(Ctl("olga", "watch --board"), 2) << "no terminal: refused";
  EXPECT_THAT(err_, HasSubstr("needs a terminal"));
}

}  // namespace
}  // namespace cit::test
