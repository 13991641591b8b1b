// Time-driven alerts fenced by vehicle ownership (issue 15 §3, alerts/alert_manager.h
// "Fencing"): two instances ("a" and "b", RunMonitoring and a record store each) on one real
// PostgreSQL database. The truck is served by "a" up to its first stop; its agent fails over to
// "b" while "a" is paused (its ownership poll does not run), and "a" continues with its clock
// past the stop's dwell, the next stop's window and the silence: its monitor raises those
// alerts for a truck it no longer owns. The alert store leaves them out, "a" releases the truck
// at once and keeps none of them in memory; the database holds what it holds when "a" learns of
// the takeover by its poll (the reference): none missing, none false, none twice.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_join.h"
#include "tests/dispatch/monitor_instance.h"
#include "tests/dispatch/scripted_run.h"
#include "tests/dispatch/store_backends.h"

namespace cit::dispatch {
namespace {

using test::BackendDb;
namespace scripted = test::scripted;
using scripted::At_s;
using scripted::kBase;
using Instance = test::MonitorInstance;

constexpr scripted::ScriptShape kShape{};

// What an alert is, whichever instance raised it.
using AlertKey = std::tuple<std::string, std::string, int64_t, int, uint32_t, bool>;
AlertKey KeyOf(const cit::v1::Alert& a) {
  return {cit::v1::AlertKind_Name(a.kind()),
          a.subject(),
          FromProto(a.event_time()).time_since_epoch().count(),
          a.severity(),
          a.occurrences(),
          a.has_condition_cleared_time()};
}

struct Outcome {
  std::multiset<AlertKey> stored;
  uint64_t fenced_on_a = 0;
  uint64_t released_on_a = 0;
  // a's alerts in memory that the database does not hold as a holds them.
  std::vector<std::string> false_in_a;
};

// Serves the truck on "a" up to t = 410 s (at S1, doors open, dwell running); then "b" takes
// it over. `a_paused`: "a" does not poll before its clock passes every deadline of the run.
Outcome Play(bool a_paused) {
  BackendDb db("postgresql");
  FakeClock clock(kBase);
  test::PlanBeforeStart(db, &clock, scripted::Plan(kShape));
  Instance a(db, "a", &clock, {.vehicle = scripted::kVehicle});
  Instance b(db, "b", &clock, {.vehicle = scripted::kVehicle});
  a.TakeOver();
  b.Poll();
  const std::vector<scripted::ScriptStep> script = scripted::Script(kShape);
  const size_t takeover = scripted::StepAt(script, 410);
  for (size_t i = 0; i < takeover; ++i) {
    a.TickUpTo(At_s(script[i].t_s));
    EXPECT_TRUE(a.Feed(scripted::Committed(script[i], i + 1)).ok());
  }
  EXPECT_TRUE(a.rm().alerts().WaitStored().ok());
  b.TakeOver();
  if (!a_paused) a.Poll();
  a.TickUpTo(At_s(4000));  // a's deadline timers, before (or after) it learns of the takeover
  EXPECT_TRUE(a.rm().alerts().WaitStored().ok());
  a.Poll();                // a's poll after all: nothing left to release
  b.TickUpTo(At_s(4000));  // the owner's: the truck stayed silent
  EXPECT_TRUE(b.rm().alerts().WaitStored().ok());

  Outcome out;
  std::map<uint64_t, cit::v1::Alert> stored_by_id;
  for (const cit::v1::Alert& alert : test::StoredAlerts(db)) {
    out.stored.insert(KeyOf(alert));
    stored_by_id[alert.alert_id()] = alert;
  }
  out.fenced_on_a = a.rm().alerts().fenced_events();
  out.released_on_a = a.follower().released();
  for (const cit::v1::Alert& mine : a.rm().alerts().List(AlertFilter{})) {
    auto it = stored_by_id.find(mine.alert_id());
    if (it == stored_by_id.end() || KeyOf(it->second) != KeyOf(mine)) {
      out.false_in_a.push_back(cit::v1::AlertKind_Name(mine.kind()));
    }
  }
  return out;
}

std::string Describe(const std::multiset<AlertKey>& alerts) {
  std::string out;
  for (const auto& [kind, subject, t, severity, occ, cleared] : alerts) {
    out += kind + " [" + subject + "] occ=" + std::to_string(occ) +
           " cleared=" + std::to_string(cleared) + "\n";
  }
  return out;
}

TEST(FencedAlertInstancesTest, AnInstancePausedPastATakeoverStoresNoTimeDrivenAlertForTheTruck) {
  const Outcome reference = Play(/*a_paused=*/false);
  EXPECT_EQ(reference.fenced_on_a, 0u);
  EXPECT_EQ(reference.released_on_a, 1u);
  std::set<std::string> kinds;
  for (const AlertKey& k : reference.stored) kinds.insert(std::get<0>(k));
  for (const char* k : {"ALERT_KIND_DWELL_EXCEEDED", "ALERT_KIND_COMMS_LOST"}) {
    EXPECT_EQ(kinds.count(k), 1u) << k << " raised by b\n" << Describe(reference.stored);
  }

  const Outcome paused = Play(/*a_paused=*/true);
  EXPECT_GT(paused.fenced_on_a, 0u) << "a's monitor raised for the truck it lost";
  EXPECT_EQ(paused.released_on_a, 1u) << "released at the first fenced alert, not again";
  EXPECT_TRUE(paused.false_in_a.empty()) << absl::StrJoin(paused.false_in_a, ", ");
  EXPECT_EQ(paused.stored, reference.stored) << "reference:\n"
                                             << Describe(reference.stored) << "paused:\n"
                                             << Describe(paused.stored);
}

// A fence reported from a reading older than this instance's own later takeover (the truck came
// back before the report arrived) releases nothing: the newer token wins, as in a poll.
TEST(FencedAlertInstancesTest, AFenceOlderThanTheInstancesOwnLaterTakeoverReleasesNothing) {
  BackendDb db("postgresql");
  FakeClock clock(kBase);
  test::PlanBeforeStart(db, &clock, scripted::Plan(kShape));
  Instance a(db, "a", &clock, {.vehicle = scripted::kVehicle});
  Instance b(db, "b", &clock, {.vehicle = scripted::kVehicle});
  a.TakeOver();  // token 1
  b.TakeOver();  // token 2
  a.TakeOver();  // token 3: back on a
  a.follower().OnFenced(scripted::kVehicle, "b", 2);
  EXPECT_EQ(a.follower().released(), 0u);
  a.follower().OnFenced(scripted::kVehicle, "b", 4);  // a newer takeover by b
  EXPECT_EQ(a.follower().released(), 1u);
}

}  // namespace
}  // namespace cit::dispatch
