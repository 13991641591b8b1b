// Test harness for monitor and rule tests: a straight synthetic route running east along
// latitude 47 from longitude 8.0 (x metres east, y metres north of its start), a FakeClock, an
// in-memory AlertManager and RunManager, and a Monitor driven synchronously (RunOnce).
//
//   MonitorHarness h;
//   h.Dispatch(h.Plan());
//   h.Fix(0, 0, /*t_s=*/0);  h.Fix(10, 0, 1);
//   EXPECT_EQ(h.Count(cit::v1::ALERT_KIND_ROUTE_DEVIATION), 0);
//
// Thread contract: single-threaded test code.
#ifndef CIT_TESTS_DISPATCH_MONITOR_HARNESS_H_
#define CIT_TESTS_DISPATCH_MONITOR_HARNESS_H_

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/plans/run_manager.h"

namespace cit::dispatch::test {

inline constexpr double kLat0 = 47.0;
inline constexpr double kLon0 = 8.0;
inline const SysTime kT0 = FromUnixSeconds(1'796'000'000);

inline cit::v1::Position At(double x_m, double y_m) {
  cit::v1::Position p;
  p.set_lat_deg(kLat0 + y_m / 111'132.0);
  p.set_lon_deg(kLon0 + x_m / (111'132.0 * std::cos(kLat0 * M_PI / 180.0)));
  return p;
}

struct FixOptions {
  std::optional<double> speed_mps;
  std::optional<double> eph_m;
  std::optional<uint32_t> jam;
  cit::v1::FixMode mode = cit::v1::FIX_MODE_3D;
  // Server receive time minus event time (backfill when large).
  double receive_delay_s = 0;
  // Do not move the fake clock to the event time.
  bool keep_clock = false;
};

class MonitorHarness {
 public:
  explicit MonitorHarness(MonitorOptions options = {}) : monitor_(&alerts_, &clock_, options) {
    runs_.SetListener([this](const RunChange& c) { monitor_.OnRunChanged(c); });
    monitor_.SetRunActivatedCallback(
        [this](const std::string& run, SysTime t) { runs_.MarkActive(run, t).IgnoreError(); });
  }

  // A plan along the synthetic route, 10 km long, half-width 50 m, no stops.
  cit::v1::RunPlan Plan(const std::string& run_id = "run-1") const {
    cit::v1::RunPlan plan;
    plan.set_run_id(run_id);
    plan.set_vehicle_id(vehicle_);
    for (int x = 0; x <= 10'000; x += 1'000) *plan.mutable_route()->add_points() = At(x, 0);
    plan.mutable_route()->set_corridor_half_width_m(50);
    return plan;
  }
  static cit::v1::Stop* AddStop(cit::v1::RunPlan& plan, const std::string& id, double x_m,
                                double y_m = 0, double radius_m = 40) {
    cit::v1::Stop* s = plan.add_stops();
    s->set_stop_id(id);
    *s->mutable_position() = At(x_m, y_m);
    s->set_radius_m(radius_m);
    return s;
  }
  static google::protobuf::Timestamp T(double t_s) { return ToProto(kT0 + FromSeconds(t_s)); }

  void Dispatch(const cit::v1::RunPlan& plan) {
    ASSERT_TRUE(runs_.Create(plan, "tester").ok());
    ASSERT_TRUE(runs_.Dispatch(plan.run_id(), "tester").ok());
    monitor_.RunOnce();
  }

  void Record(cit::v1::Record r, double t_s, double receive_delay_s = 0, bool keep_clock = false) {
    RecordAs(++seq_, std::move(r), t_s, receive_delay_s, keep_clock);
  }
  // Reserves `n` seqs for records sent later (a backlog that an urgent record overtakes);
  // returns the first.
  uint64_t ReserveSeqs(uint64_t n) {
    const uint64_t first = seq_ + 1;
    seq_ += n;
    return first;
  }
  // A record with an explicit seq (out of seq order, as over the agent's urgent channel).
  void RecordAs(uint64_t seq, cit::v1::Record r, double t_s, double receive_delay_s = 0,
                bool keep_clock = false) {
    r.set_seq(seq);
    *r.mutable_event_time() = T(t_s);
    const SysTime received = kT0 + FromSeconds(t_s + receive_delay_s);
    if (!keep_clock) clock_.Set(received);
    CommittedRecord cr{vehicle_, std::move(r),
                       std::chrono::time_point_cast<std::chrono::system_clock::duration>(received)};
    monitor_.OnAccepted(std::span<const CommittedRecord>(&cr, 1));
    monitor_.RunOnce();
  }

  void Fix(double x_m, double y_m, double t_s, const FixOptions& o = {}) {
    cit::v1::Record r;
    cit::v1::Fix* f = r.mutable_fix();
    const cit::v1::Position p = At(x_m, y_m);
    f->set_lat_deg(p.lat_deg());
    f->set_lon_deg(p.lon_deg());
    f->set_mode(o.mode);
    if (o.speed_mps) f->set_speed_mps(*o.speed_mps);
    if (o.eph_m) f->set_eph_m(*o.eph_m);
    if (o.jam) f->set_jam_indicator(*o.jam);
    Record(std::move(r), t_s, o.receive_delay_s, o.keep_clock);
  }
  // Drives from x0 to x1 (y = 0) at `speed` m/s, one fix per second, starting at t0.
  double Drive(double x0, double x1, double t0, double speed = 10, double y = 0) {
    const double dir = x1 >= x0 ? 1 : -1;
    double t = t0;
    for (double x = x0; dir * (x1 - x) >= 0; x += dir * speed, t += 1) {
      FixOptions o;
      o.speed_mps = speed;
      Fix(x, y, t, o);
    }
    return t;
  }
  void Door(uint32_t door, cit::v1::DoorState state, double t_s) {
    cit::v1::Record r;
    r.mutable_door()->set_door(door);
    r.mutable_door()->set_state(state);
    Record(std::move(r), t_s);
  }
  void Crew(const std::string& badge, cit::v1::CrewAction action, double t_s) {
    cit::v1::Record r;
    r.mutable_crew()->set_badge_id(badge);
    r.mutable_crew()->set_action(action);
    Record(std::move(r), t_s);
  }
  void Heartbeat(double t_s) {
    cit::v1::Record r;
    r.mutable_heartbeat();
    Record(std::move(r), t_s);
  }
  // Moves the fake clock without any record and fires due deadlines.
  void AdvanceTo(double t_s) {
    clock_.Set(kT0 + FromSeconds(t_s));
    monitor_.RunOnce();
  }

  std::vector<cit::v1::Alert> Alerts(cit::v1::AlertKind kind) const {
    std::vector<cit::v1::Alert> out;
    for (auto& a : alerts_.List(AlertFilter{})) {
      if (a.kind() == kind) out.push_back(a);
    }
    return out;
  }
  size_t Count(cit::v1::AlertKind kind) const { return Alerts(kind).size(); }
  // The single alert of `kind` (fails the test if there is not exactly one).
  cit::v1::Alert One(cit::v1::AlertKind kind) const {
    auto a = Alerts(kind);
    EXPECT_EQ(a.size(), 1u) << cit::v1::AlertKind_Name(kind);
    return a.empty() ? cit::v1::Alert() : a[0];
  }
  static double Rel(const google::protobuf::Timestamp& t) { return Seconds(FromProto(t) - kT0); }

  FakeClock& clock() { return clock_; }
  AlertManager& alerts() { return alerts_; }
  RunManager& runs() { return runs_; }
  Monitor& monitor() { return monitor_; }
  const std::string& vehicle() const { return vehicle_; }

 private:
  std::string vehicle_ = "truck-7";
  uint64_t seq_ = 0;
  FakeClock clock_{kT0};
  AlertManager alerts_{nullptr, &clock_};
  RunManager runs_{nullptr, &clock_};
  Monitor monitor_;
};

}  // namespace cit::dispatch::test

#endif  // CIT_TESTS_DISPATCH_MONITOR_HARNESS_H_
