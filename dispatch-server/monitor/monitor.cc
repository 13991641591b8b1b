#include "dispatch-server/monitor/monitor.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "dispatch-server/monitor/motion.h"
#include "dispatch-server/monitor/state_snapshot.h"
#include "dispatch-server/rules/route_progress.h"
#include "spdlog/spdlog.h"

namespace cit::dispatch {
namespace {

// Consecutive fixes outside the zone before a departure counts (one stray fix is noise).
constexpr uint8_t kDepartFixes = 2;
// Without a first-stop zone, the run is active once this far along the route.
constexpr double kActivationProgressM = 100.0;

// The run-scoped conditions a vehicle may still have open when its run ends.
constexpr cit::v1::AlertKind kRunScopedKinds[] = {
    cit::v1::ALERT_KIND_ROUTE_DEVIATION, cit::v1::ALERT_KIND_WRONG_DIRECTION,
    cit::v1::ALERT_KIND_UNSCHEDULED_STOP, cit::v1::ALERT_KIND_COMMS_LOST};

}  // namespace

// The AlertSink of one vehicle: adds vehicle, run and the backfill delay.
// After a restart, signals already stored are dropped (VehicleState::gate), and a deadline
// that fell due while the server was down says so.
class Monitor::Sink final : public AlertSink {
 public:
  Sink(AlertManager* alerts, const VehicleState& v, SysTime now,
       SysTime down_until = SysTime::min())
      : alerts_(alerts), v_(v), now_(now), down_until_(down_until) {}
  // Another instance evaluates the vehicle (Monitor::Release): nothing is raised or cleared here.
  void Mute() { muted_ = true; }
  void Raise(const AlertSignal& raised) override {
    if (muted_) return;
    if (v_.gate && !v_.gate->AdmitRaise(raised, now_)) return;
    AlertSignal marked;
    const bool while_down = raised.event_time < down_until_;
    if (while_down) {
      marked = raised;
      marked.details += "; fell due while the server was down";
    }
    const AlertSignal& signal = while_down ? marked : raised;
    const double delay_s = v_.backfill ? std::max(0.0, Seconds(now_ - signal.event_time)) : 0.0;
    AlertManager::Owner owner{v_.vehicle_id, v_.run ? v_.run->run_id : std::string(),
                              v_.run ? v_.run->version : 0u};
    // Record-to-alert latency: live records only (not backfill, not a start-up re-evaluation).
    const bool replaying = v_.gate && v_.gate->phase() != ReplayGate::Phase::kLive;
    absl::StatusOr<uint64_t> id = alerts_->Raise(
        owner, signal, delay_s, v_.backfill || replaying ? std::nullopt : v_.record_received);
    if (!id.ok()) {
      spdlog::error("monitor: raising {} for {} failed: {}", cit::v1::AlertKind_Name(signal.kind),
                    v_.vehicle_id, id.status().ToString());
    }
  }
  void Clear(cit::v1::AlertKind kind, const std::string& subject, SysTime event_time,
             const std::string& details) override {
    if (muted_) return;
    if (v_.gate && !v_.gate->AdmitClear(kind, subject, now_)) return;
    absl::Status s = alerts_->Clear(v_.vehicle_id, kind, subject, event_time, details);
    if (!s.ok()) {
      spdlog::error("monitor: clearing {} for {} failed: {}", cit::v1::AlertKind_Name(kind),
                    v_.vehicle_id, s.ToString());
    }
  }

 private:
  AlertManager* alerts_;
  const VehicleState& v_;
  SysTime now_;
  SysTime down_until_;  // clock-driven signals only (Tick)
  bool muted_ = false;
};

Monitor::Monitor(AlertManager* alerts, const Clock* clock, MonitorOptions options)
    : alerts_(alerts), clock_(clock), options_(options), wheel_(clock->Now()) {}

Monitor::~Monitor() { Stop(); }

void Monitor::OnAccepted(std::span<const CommittedRecord> batch) {
  const bool alarm = threaded_.load() && IsAlarmBatch(batch);
  if (alarm && EvaluateOnArrival(batch)) return;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    // An alarm of a vehicle with nothing waiting goes ahead of the other vehicles' queued work
    // (see the header); anything else, and an alarm behind its own vehicle's records, queues.
    const bool ahead = alarm && NothingWaitingLocked(batch);
    if (ahead) queued_ahead_.fetch_add(batch.size(), std::memory_order_relaxed);
    std::vector<Item>& lane = ahead ? alarms_ : queue_;
    for (const CommittedRecord& r : batch) {
      lane.emplace_back(r);
      ++waiting_[r.vehicle_id];
    }
    enqueued_ += batch.size();
  }
  queue_cv_.notify_one();
}

bool Monitor::IsAlarmBatch(std::span<const CommittedRecord> batch) {
  if (batch.empty() || batch.size() > kMaxRecordsOnArrival) return false;
  return std::any_of(batch.begin(), batch.end(), [](const CommittedRecord& c) {
    return c.record.has_panic() || c.record.has_door() || c.record.has_seal();
  });
}

bool Monitor::NothingWaitingLocked(std::span<const CommittedRecord> batch) const {
  if (waiting_.empty()) return true;
  return std::none_of(batch.begin(), batch.end(), [this](const CommittedRecord& c) {
    return waiting_.count(c.vehicle_id) != 0;
  });
}

bool Monitor::EvaluateOnArrival(std::span<const CommittedRecord> batch) {
  // Busy (evaluating an item, ticking, a Fleet() read): the batch goes to alarms_ instead.
  std::unique_lock<std::mutex> state(state_mu_, std::try_to_lock);
  if (!state.owns_lock()) return false;
  {
    // Everything of these vehicles accepted before has been evaluated (not merely taken off
    // the queue: waiting_ drops an item only after its evaluation, under state_mu_), so
    // evaluating now keeps each vehicle's order; other vehicles' records may still be queued.
    // Lock order: state_mu_, then queue_mu_.
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stop_ || !NothingWaitingLocked(batch)) return false;
  }
  for (const CommittedRecord& r : batch) {
    if (!held_.empty() && held_.count(r.vehicle_id) != 0) return false;  // waits for its run
  }
  for (const CommittedRecord& r : batch) Process(r);
  evaluated_on_arrival_.fetch_add(batch.size());
  std::lock_guard<std::mutex> lock(queue_mu_);
  enqueued_ += batch.size();  // counted as queued and drained, for Flush()
  drained_ += batch.size();
  return true;
}

void Monitor::OnRunChanged(const RunChange& change) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.emplace_back(change);
    ++waiting_[change.run.plan().vehicle_id()];
    ++enqueued_;
  }
  queue_cv_.notify_one();
}

void Monitor::HoldVehicles(const std::vector<std::string>& vehicle_ids) {
  std::lock_guard<std::mutex> lock(state_mu_);
  for (const std::string& id : vehicle_ids) held_.try_emplace(id);
}

std::size_t Monitor::held_records() const { return held_count_.load(); }

std::vector<std::string> Monitor::HeldVehicles() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  std::vector<std::string> out;
  out.reserve(held_.size());
  for (const auto& [id, records] : held_) out.push_back(id);
  return out;
}

void Monitor::Release(const std::string& vehicle_id) {
  std::lock_guard<std::mutex> lock(state_mu_);
  VehicleState& v = Vehicle(vehicle_id);
  if (released_.size() <= v.index) released_.resize(v.index + 1, false);
  if (!released_[v.index]) ++released_count_;
  released_[v.index] = true;
  v.timers.fill(0);  // pending expiries become stale
  if (auto it = held_.find(vehicle_id); it != held_.end()) {
    records_of_released_ += it->second.size();
    held_count_ -= it->second.size();
    held_.erase(it);
  }
}

void Monitor::Resume(const std::string& vehicle_id, std::optional<SysTime> reachable_since) {
  std::lock_guard<std::mutex> lock(state_mu_);
  held_.try_emplace(vehicle_id);
  if (reachable_since) {
    reachable_since_[vehicle_id] = *reachable_since;
  } else {
    reachable_since_.erase(vehicle_id);
  }
  VehicleState& v = Vehicle(vehicle_id);
  v.timers.fill(0);  // armed again from the rebuilt state (Adopt)
  if (v.index < released_.size() && released_[v.index]) {
    released_[v.index] = false;
    --released_count_;
  }
}

std::size_t Monitor::released_vehicles() const { return released_count_.load(); }

void Monitor::ReleaseHeld(const std::string& vehicle_id) {
  if (held_.empty()) return;
  auto it = held_.find(vehicle_id);
  if (it == held_.end()) return;
  std::vector<CommittedRecord> records = std::move(it->second);
  held_.erase(it);
  for (const CommittedRecord& r : records) {
    Process(r);
    --held_count_;
  }
}

void Monitor::Adopt(std::unique_ptr<VehicleState> state) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    ++waiting_[state->vehicle_id];
    queue_.emplace_back(std::move(state));
    ++enqueued_;
  }
  queue_cv_.notify_one();
}

std::unique_ptr<VehicleState> Monitor::TakeVehicle(const std::string& vehicle_id) {
  std::lock_guard<std::mutex> lock(state_mu_);
  auto it = index_.find(vehicle_id);
  if (it == index_.end()) return nullptr;
  auto out = std::make_unique<VehicleState>(std::move(*vehicles_[it->second]));
  *vehicles_[it->second] = VehicleState{};
  vehicles_[it->second]->vehicle_id = vehicle_id;
  vehicles_[it->second]->index = it->second;
  return out;
}

void Monitor::ApplyAdopted(std::unique_ptr<VehicleState> state) {
  VehicleState& v = Vehicle(state->vehicle_id);
  const uint32_t index = v.index;
  v = std::move(*state);
  v.index = index;
  // Timer ids of the replay's wheel mean nothing here: arm every deadline again from the state.
  v.timers.fill(0);
  v.backfill = false;
  v.record_received.reset();
  const SysTime now = clock_->Now();
  // Adopted from a dead owner: the agent could reach this instance all along (since then).
  std::optional<SysTime> reachable_since;
  if (auto it = reachable_since_.find(v.vehicle_id); it != reachable_since_.end()) {
    reachable_since = it->second;
    reachable_since_.erase(it);
  }
  if (v.has_live_run()) {
    // As for a run loaded at start-up: the agents were cut off while the server was down, so
    // silence counts from now at the earliest (less a second), not from the last record.
    const SysTime silent_since =
        std::max(v.comms.last_seen_server, reachable_since.value_or(now - FromSeconds(1)));
    Schedule(v, kTimerComms, silent_since + FromSeconds(v.limits.comms_loss_s));
    RescheduleWindow(v);
    if (v.current_stop >= 0 && v.stops[v.current_stop].status == StopStatus::kArrived &&
        !v.stops[v.current_stop].dwell_alerted && v.run->stops[v.current_stop].max_dwell_s > 0) {
      Schedule(
          v, kTimerDwell,
          v.stops[v.current_stop].arrived + FromSeconds(v.run->stops[v.current_stop].max_dwell_s));
    }
    if (!v.doors_awaiting_position.empty()) {
      Schedule(v, kTimerDoor, now + FromSeconds(options_.door_position_wait_s));
    }
  }
  if (v.gnss_lost.lost && !v.gnss_lost.active) {
    Schedule(v, kTimerGnss, v.gnss_lost.lost_since_server + FromSeconds(v.limits.gnss_loss_s));
  }
}

void Monitor::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    thread_id_ = std::this_thread::get_id();
    Loop();
  });
  threaded_ = true;
}

void Monitor::Stop() {
  threaded_ = false;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Monitor::Loop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  while (!stop_) {
    queue_cv_.wait_for(lock, options_.tick,
                       [this] { return stop_ || !queue_.empty() || !alarms_.empty(); });
    if (stop_) break;
    lock.unlock();
    Drain();
    Tick();
    lock.lock();
    ++ticks_;
    queue_cv_.notify_all();  // Flush() waiters
  }
}

void Monitor::Drain() {
  std::vector<Item> items;
  std::vector<Item> alarms;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    items.swap(queue_);
    alarms.swap(alarms_);
  }
  // One item at a time under the state lock, released in between so that an alarm arriving
  // meanwhile is evaluated on arrival; one that found the lock held is in alarms_ and is taken
  // next, before the rest of `items` (none of its vehicle's records is among them).
  size_t next = 0;
  size_t next_alarm = 0;
  while (next_alarm < alarms.size() || next < items.size()) {
    Item& item = next_alarm < alarms.size() ? alarms[next_alarm++] : items[next++];
    std::lock_guard<std::mutex> state(state_mu_);
    const std::string vehicle_id = VehicleOf(item);  // Evaluate may move it out
    Evaluate(item);
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (auto it = waiting_.find(vehicle_id); it != waiting_.end() && --it->second == 0) {
      waiting_.erase(it);
    }
    ++drained_;
    if (!alarms_.empty()) {
      if (next_alarm == alarms.size()) {
        alarms.clear();
        next_alarm = 0;
      }
      for (Item& a : alarms_) alarms.push_back(std::move(a));
      alarms_.clear();
    }
  }
}

const std::string& Monitor::VehicleOf(const Item& item) {
  if (const auto* rec = std::get_if<CommittedRecord>(&item)) return rec->vehicle_id;
  if (const auto* adopted = std::get_if<std::unique_ptr<VehicleState>>(&item)) {
    return (*adopted)->vehicle_id;
  }
  return std::get<RunChange>(item).run.plan().vehicle_id();
}

void Monitor::Evaluate(Item& item) {
  if (auto* rec = std::get_if<CommittedRecord>(&item)) {
    if (!held_.empty()) {
      if (auto it = held_.find(rec->vehicle_id); it != held_.end()) {
        it->second.push_back(std::move(*rec));
        ++held_count_;
        return;
      }
    }
    Process(*rec);
  } else if (auto* adopted = std::get_if<std::unique_ptr<VehicleState>>(&item)) {
    const std::string vehicle_id = (*adopted)->vehicle_id;
    ApplyAdopted(std::move(*adopted));
    ReleaseHeld(vehicle_id);
  } else {
    const RunChange& change = std::get<RunChange>(item);
    ApplyRunChange(change);
    ReleaseHeld(change.run.plan().vehicle_id());
  }
}

void Monitor::RunOnce() {
  Drain();
  Tick();
}

void Monitor::Flush() {
  if (!thread_.joinable()) {
    RunOnce();
    return;
  }
  std::unique_lock<std::mutex> lock(queue_mu_);
  const uint64_t target = enqueued_;
  const uint64_t tick = ticks_;
  queue_cv_.notify_one();
  queue_cv_.wait(lock, [&] { return stop_ || (drained_ >= target && ticks_ > tick); });
}

VehicleState& Monitor::Vehicle(const std::string& vehicle_id) {
  auto it = index_.find(vehicle_id);
  if (it != index_.end()) return *vehicles_[it->second];
  auto v = std::make_unique<VehicleState>();
  v->vehicle_id = vehicle_id;
  v->index = static_cast<uint32_t>(vehicles_.size());
  index_.emplace(vehicle_id, v->index);
  vehicles_.push_back(std::move(v));
  return *vehicles_.back();
}

void Monitor::Schedule(VehicleState& v, TimerTag tag, SysTime deadline) {
  v.timers[tag] = wheel_.Schedule(deadline, v.index, tag);
}

void Monitor::Process(const CommittedRecord& cr) {
  VehicleState& v = Vehicle(cr.vehicle_id);
  if (!released_.empty() && IsReleased(v)) {
    records_of_released_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ProcessRecord(v, cr);
  // After the record's signals reached the AlertManager (they are raised immediately), so the
  // snapshot's alert event id covers them.
  if (snapshot_sink_) MaybeSnapshot(v, cr.record.seq());
}

void Monitor::MaybeSnapshot(VehicleState& v, uint64_t seq) {
  if (!v.has_live_run() || options_.snapshot_interval_s <= 0) return;
  // Stored events a rebuild left unmatched still absorb live signals; a snapshot cannot carry
  // that queue, so none is taken until it is empty (the restart then replays the whole run).
  if (v.gate && v.gate->pending() > 0) return;
  const SysTime now = clock_->Now();
  if (snapshot_due_.size() <= v.index) snapshot_due_.resize(v.index + 1, SysTime::min());
  SysTime& due = snapshot_due_[v.index];
  if (due == SysTime::min()) {
    // Spread over the interval: after a restart every vehicle starts at once, and a thousand
    // snapshots in one tick would delay that tick's records.
    const double spread = static_cast<double>((v.index * 7919u) % 1000u) / 1000.0;
    due = now + FromSeconds(options_.snapshot_interval_s * spread);
  }
  if (now < due) return;
  due = now + FromSeconds(options_.snapshot_interval_s);
  SnapshotHeader h;
  h.vehicle_id = v.vehicle_id;
  h.run_id = v.run->run_id;
  h.plan_version = v.run->version;
  h.last_seq = seq;
  h.alerts_through = alerts_->last_event_id();
  h.taken_at = now;
  std::string bytes = EncodeSnapshot(h, v);
  if (bytes.empty()) return;  // no digest (OpenSSL failed): nothing rather than a bad snapshot
  snapshot_sink_(StoredSnapshot{h.vehicle_id, h.run_id, h.plan_version, h.last_seq,
                                now.time_since_epoch().count(), std::move(bytes)});
}

void Monitor::ProcessRecord(VehicleState& v, const CommittedRecord& cr) {
  const cit::v1::Record& r = cr.record;
  const SysTime event_time = FromProto(r.event_time());
  const SysTime now = clock_->Now();
  // Silence and liveness are measured on the monitor's clock (when the record reached the
  // rules, microseconds after the ingest received it), so that every
  // deadline compares like with like, also under a test's FakeClock.
  const SysTime server_time = now;
  // Detected much later than it happened: the record came from a backlog (coverage gap).
  v.backfill = Seconds(now - event_time) > options_.backfill_threshold_s;
  v.detected_time = now;
  v.record_received = cr.server_received_time;
  struct ResetReceived {
    VehicleState& v;
    ~ResetReceived() { v.record_received.reset(); }
  } reset_received{v};
  Sink sink(alerts_, v, now);
  // Panic, door and seal records may jump the agent's backlog (urgent channel); everything
  // else arrives in seq order, so its arrival means the records before it are in (or gone).
  const bool urgent_kind = r.has_door() || r.has_seal() || r.has_panic();
  const bool jumped = v.highest_seq > 0 && r.seq() > v.highest_seq + 1;
  if (!urgent_kind) JudgeDoorsBefore(v, r.seq(), sink);
  CommsLostRule::OnRecord(v, server_time, *this, sink);
  v.last_seen_server = std::max(v.last_seen_server, server_time);
  v.last_seen_event = std::max(v.last_seen_event, event_time);
  v.has_seen = true;
  records_processed_.fetch_add(1, std::memory_order_relaxed);

  switch (r.payload_case()) {
    case cit::v1::Record::kFix:
      ProcessFix(v, r, server_time);
      break;
    case cit::v1::Record::kDoor: {
      const uint32_t door = r.door().door();
      const uint64_t bit = door >= 1 && door <= 64 ? (uint64_t{1} << (door - 1)) : 0;
      if (r.door().state() == cit::v1::DOOR_STATE_OPEN) {
        v.doors_open |= bit;
        if (v.has_live_run() && v.current_stop >= 0) ++v.stops[v.current_stop].door_openings;
        CrewIncompleteRule::OnDoorOpen(v, r, sink);
      } else if (r.door().state() == cit::v1::DOOR_STATE_CLOSED) {
        v.doors_open &= ~bit;
      }
      // Ahead of older records (urgent channel during a backlog): the position at the time of
      // the event is not known yet. Later door events queue behind earlier ones (order kept).
      if (v.has_live_run() && (jumped || !v.doors_awaiting_position.empty())) {
        if (v.doors_awaiting_position.empty()) {
          Schedule(v, kTimerDoor, now + FromSeconds(options_.door_position_wait_s));
        }
        v.doors_awaiting_position.push_back(r);
      } else {
        DoorOpenOutsideStopRule::OnDoor(v, r, sink);
      }
      break;
    }
    case cit::v1::Record::kSeal: {
      const uint32_t seal = r.seal().seal();
      const uint64_t bit = seal >= 1 && seal <= 64 ? (uint64_t{1} << (seal - 1)) : 0;
      if (r.seal().state() == cit::v1::SEAL_STATE_BROKEN) {
        v.seals_broken |= bit;
      } else if (r.seal().state() == cit::v1::SEAL_STATE_INTACT) {
        v.seals_broken &= ~bit;
      }
      SealBrokenRule::OnSeal(v, r, sink);
      break;
    }
    case cit::v1::Record::kPanic:
      PanicRule::OnPanic(v, r, sink);
      break;
    case cit::v1::Record::kCrew:
      CrewIncompleteRule::OnCrew(v, r, sink);
      break;
    case cit::v1::Record::kGnss: {
      const cit::v1::GnssState state = r.gnss().state();
      v.gnss_state = state;
      if (state == cit::v1::GNSS_STATE_FIX_LOST || state == cit::v1::GNSS_STATE_GPSD_DISCONNECTED) {
        GnssLostRule::OnNoFix(v, event_time, server_time, *this, sink);
      }
      break;
    }
    case cit::v1::Record::kHeartbeat:
      // Proof of life: if the GNSS is lost, the loss keeps growing in event time.
      if (v.gnss_lost.lost) GnssLostRule::OnNoFix(v, event_time, server_time, *this, sink);
      break;
    default:
      break;
  }
  if (!(urgent_kind && jumped)) v.highest_seq = std::max(v.highest_seq, r.seq());
  JudgeDoorsAfter(v, sink);
}

void Monitor::JudgeDoorsBefore(VehicleState& v, uint64_t seq, Sink& sink) {
  auto& doors = v.doors_awaiting_position;
  while (!doors.empty() && doors.front().seq() < seq) {
    DoorOpenOutsideStopRule::OnDoor(v, doors.front(), sink);
    doors.erase(doors.begin());
  }
}

void Monitor::JudgeDoorsAfter(VehicleState& v, Sink& sink) {
  auto& doors = v.doors_awaiting_position;
  // Due once every record before it was evaluated (highest_seq excludes queued doors).
  while (!doors.empty() && doors.front().seq() <= v.highest_seq + 1) {
    DoorOpenOutsideStopRule::OnDoor(v, doors.front(), sink);
    doors.erase(doors.begin());
  }
}

void Monitor::JudgeAllDoors(VehicleState& v, Sink& sink) {
  for (const cit::v1::Record& r : v.doors_awaiting_position) {
    DoorOpenOutsideStopRule::OnDoor(v, r, sink);
  }
  v.doors_awaiting_position.clear();
}

void Monitor::ProcessFix(VehicleState& v, const cit::v1::Record& r, SysTime server_time) {
  const cit::v1::Fix& fx = r.fix();
  const SysTime t = FromProto(r.event_time());
  Sink sink(alerts_, v, v.detected_time);
  const bool usable_mode = fx.mode() == cit::v1::FIX_MODE_2D || fx.mode() == cit::v1::FIX_MODE_3D;
  absl::StatusOr<geo::LonLat> pos =
      geo::LonLat::Create(geo::Longitude{fx.lon_deg()}, geo::Latitude{fx.lat_deg()});
  if (!usable_mode || !pos.ok()) {
    GnssLostRule::OnNoFix(v, t, server_time, *this, sink);
    return;
  }
  FixContext f(*pos);
  f.event_time = t;
  f.seq = r.seq();
  f.eph_m = fx.has_eph_m() && std::isfinite(fx.eph_m()) ? std::max(0.0, fx.eph_m()) : 0.0;
  f.reported_speed_mps = fx.has_speed_mps() ? fx.speed_mps() : NAN;
  f.eps_mps = fx.has_eps_mps() && std::isfinite(fx.eps_mps()) ? std::max(0.0, fx.eps_mps()) : 0.0;
  f.has_jam_indicator = fx.has_jam_indicator();
  f.jam_indicator = fx.jam_indicator();
  f.dt_s = v.last_fix ? Seconds(t - v.last_fix->event_time) : 0.0;
  UpdateMotion(v.motion, v.limits, f);
  if (v.motion.moving && std::isfinite(f.speed_mps)) {
    v.typical_speed_mps =
        v.typical_speed_mps <= 0 ? f.speed_mps : 0.95 * v.typical_speed_mps + 0.05 * f.speed_mps;
  }

  if (v.has_live_run()) {
    const CompiledRun& run = *v.run;
    // Prefer the leg the track supports (the chain's progress), not where one stray fix was.
    std::optional<double> previous = ChainProgress(v.progress_chain);
    if (!previous && v.has_progress) previous = v.progress_m;
    const geo::Corridor::Match m = run.corridor->Locate(f.position, previous, v.corridor_hint);
    f.on_run = true;
    f.distance_m = m.distance_m;
    if (m.distance_m - f.eph_m > run.half_width_m) {
      // Locate prefers the leg that continues the previous progress (loops, out-and-back),
      // which may be farther than another leg; off the corridor means far from all of it.
      geo::Corridor::Hint nearest_hint = v.corridor_hint;  // keep the chosen leg's hint
      f.distance_m = std::min(
          m.distance_m, run.corridor->Locate(f.position, std::nullopt, nearest_hint).distance_m);
    }
    f.progress_m = m.progress_m;
    v.progress_m = m.progress_m;
    v.distance_m = f.distance_m;
    v.has_progress = true;
    f.stop_index = run.StopContaining(f.position, m.progress_m, f.distance_m);
    NotePath(v.progress_chain, f);
    if (f.distance_m - f.eph_m <= run.half_width_m) ExtendChain(v.progress_chain, f);

    // Stop state machine: depart after kDepartFixes fixes outside, arrive on the first inside.
    if (v.current_stop >= 0 && f.stop_index != v.current_stop) {
      StopTrack& cur = v.stops[v.current_stop];
      if (++cur.outside_fixes >= kDepartFixes) Depart(v, v.current_stop, t, sink);
    } else if (v.current_stop >= 0) {
      v.stops[v.current_stop].outside_fixes = 0;
    }
    if (f.stop_index >= 0 && f.stop_index != v.current_stop) {
      const StopStatus st = v.stops[f.stop_index].status;
      if (st == StopStatus::kPending || st == StopStatus::kSkipped || st == StopStatus::kMissed) {
        if (v.current_stop >= 0) Depart(v, v.current_stop, t, sink);
        Arrive(v, f.stop_index, f, sink);
      }
    }
    // Left the depot: departed the first stop's zone, or the track (not one fix) went past it.
    if (v.run_state == cit::v1::RUN_STATE_DISPATCHED && f.stop_index != 0 &&
        (run.stops.empty()
             ? TrackPassed(v.progress_chain, f, 0, kActivationProgressM)
             : (v.stops[0].status == StopStatus::kDeparted ||
                TrackPassed(v.progress_chain, f, run.stops[0].progress_m + run.stops[0].reach_m,
                            kActivationProgressM)))) {
      Activate(v, t, sink);
    }
  }

  if (f.frozen_while_moving) {
    GnssLostRule::OnFrozenFix(v, f, server_time, *this, sink);
  } else {
    GnssLostRule::OnUsableFix(v, f, sink);
  }
  GnssImplausibleRule::OnFix(v, f, sink);
  RouteDeviationRule::OnFix(v, f, options_.rules.deviation, sink);
  WrongDirectionRule::OnFix(v, f, sink);
  MissedStopRule::OnFix(v, f, sink);
  UnscheduledStopRule::OnFix(v, f, sink);
  DwellExceededRule::OnFix(v, f, sink);
  OverspeedRule::OnFix(v, f, sink);
  MovedWithoutRunRule::OnFix(v, f, sink);

  v.last_fix = f;
  v.last_fix_proto = fx;
  v.last_fix_time = t;
}

void Monitor::Arrive(VehicleState& v, int stop, const FixContext& f, Sink& sink) {
  StopTrack& s = v.stops[stop];
  OutOfOrderStopRule::OnArrived(v, stop, f, sink);
  s.status = StopStatus::kArrived;
  s.arrived = f.event_time;
  s.outside_fixes = 0;
  v.current_stop = stop;
  while (v.next_stop < static_cast<int>(v.stops.size()) &&
         v.stops[v.next_stop].status != StopStatus::kPending) {
    ++v.next_stop;
  }
  EarlyArrivalRule::OnArrived(v, stop, f, sink);
  LateArrivalRule::OnArrived(v, stop, f, sink);
  MissedStopRule::OnArrived(v, stop, f, sink);
  DwellExceededRule::OnArrived(v, stop, *this);
}

void Monitor::Depart(VehicleState& v, int stop, SysTime t, Sink& sink) {
  StopTrack& s = v.stops[stop];
  s.status = StopStatus::kDeparted;
  s.departed = t;
  if (v.current_stop == stop) v.current_stop = -1;
  EarlyArrivalRule::OnDeparted(v, stop, t, sink);
  DwellExceededRule::OnDeparted(v, stop, t, sink);
  if (stop == 0 && v.run_state == cit::v1::RUN_STATE_DISPATCHED) Activate(v, t, sink);
}

void Monitor::Activate(VehicleState& v, SysTime t, Sink& sink) {
  v.run_state = cit::v1::RUN_STATE_ACTIVE;
  CrewIncompleteRule::OnDepartedDepot(v, t, sink);
  if (on_run_activated_) on_run_activated_(v.run->run_id, t);
}

void Monitor::RescheduleWindow(VehicleState& v) {
  if (!v.has_live_run()) return;
  std::optional<SysTime> next;
  for (size_t i = 0; i < v.stops.size(); ++i) {
    const CompiledStop& s = v.run->stops[i];
    const StopTrack& t = v.stops[i];
    if (t.status != StopStatus::kPending || !s.latest) continue;
    SysTime d = t.late_alerted ? *s.latest + FromSeconds(v.limits.missed_stop_grace_s) : *s.latest;
    if (t.late_alerted && t.missed_alerted) continue;
    if (!next || d < *next) next = d;
  }
  if (next) Schedule(v, kTimerWindow, *next);
}

void Monitor::DetachRun(VehicleState& v, SysTime t, Sink& sink) {
  JudgeAllDoors(v, sink);  // against the run they happened in
  for (cit::v1::AlertKind kind : kRunScopedKinds) {
    sink.Clear(kind, "", t, "run ended");
  }
  v.run.reset();
  v.run_state = cit::v1::RUN_STATE_UNSPECIFIED;
  v.stops.clear();
  v.current_stop = -1;
  v.next_stop = 0;
  v.has_progress = false;
  v.progress_chain = ProgressChainState{};
  v.limits = RunLimits{};
  v.deviation = DeviationState{};
  v.wrong_direction = WrongDirectionState{};
  v.unscheduled_stop = UnscheduledStopState{};
  v.comms.active = false;
  v.timers.fill(0);  // pending expiries become stale
  v.moved_without_run = MovedWithoutRunState{};
  v.gate.reset();  // the rebuilt run's stored alerts are behind us
}

void Monitor::ApplyRunChange(const RunChange& change) {
  const cit::v1::Run& run = change.run;
  VehicleState& v = Vehicle(run.plan().vehicle_id());
  const SysTime now = clock_->Now();
  v.backfill = false;
  Sink sink(alerts_, v, now);
  // The run's end or change is judged by the instance that owns the vehicle; this one only
  // keeps the plan (a takeover rebuilds the state from the store anyway).
  if (IsReleased(v)) sink.Mute();
  const bool mine = v.run && v.run->run_id == run.plan().run_id();
  if (!IsLive(run.state())) {
    if (!mine) return;
    if (run.state() == cit::v1::RUN_STATE_COMPLETED) MissedStopRule::OnRunCompleted(v, now, sink);
    DetachRun(v, now, sink);
    return;
  }
  if (!change.compiled) return;
  if (mine && v.run->version == change.compiled->version) {
    v.run_state = run.state();
    return;
  }
  // A new run, or a new version of the current one: keep stop progress by stop id.
  std::vector<StopTrack> old_stops;
  std::shared_ptr<const CompiledRun> old_run = v.run;
  if (mine) old_stops = v.stops;
  if (!mine && v.run) DetachRun(v, now, sink);
  v.run = change.compiled;
  v.run_state = run.state();
  v.progress_chain = ProgressChainState{};  // progress on another corridor means nothing here
  v.limits = v.run->limits;
  v.stops.assign(v.run->stops.size(), StopTrack{});
  if (mine && old_run) {
    for (size_t i = 0; i < v.stops.size(); ++i) {
      for (size_t j = 0; j < old_run->stops.size() && j < old_stops.size(); ++j) {
        if (old_run->stops[j].stop_id == v.run->stops[i].stop_id) v.stops[i] = old_stops[j];
      }
    }
  } else {
    v.current_stop = -1;
    v.next_stop = 0;
    v.has_progress = false;
    MovedWithoutRunRule::OnRunStarted(v, now, sink);
  }
  v.current_stop = -1;
  for (size_t i = 0; i < v.stops.size(); ++i) {
    if (v.stops[i].status == StopStatus::kArrived) v.current_stop = static_cast<int>(i);
  }
  v.next_stop = 0;
  while (v.next_stop < static_cast<int>(v.stops.size()) &&
         v.stops[v.next_stop].status != StopStatus::kPending) {
    ++v.next_stop;
  }
  RescheduleWindow(v);
  if (!v.has_seen) v.comms.last_seen_server = now;  // silence counts from dispatch
  Schedule(v, kTimerComms,
           std::max(v.comms.last_seen_server, now - FromSeconds(1)) +
               FromSeconds(v.limits.comms_loss_s));
}

void Monitor::Tick() {
  const SysTime now = clock_->Now();
  std::lock_guard<std::mutex> lock(state_mu_);
  wheel_.Advance(now, [&](const TimerWheel::Expired& e) {
    if (e.owner >= vehicles_.size()) return;
    VehicleState& v = *vehicles_[e.owner];
    if (e.tag >= kTimerCount || v.timers[e.tag] != e.id) return;  // superseded
    if (IsReleased(v)) return;  // another instance evaluates it (Release)
    v.timers[e.tag] = 0;
    v.backfill = false;
    Sink sink(alerts_, v, now, restarted_at_);
    switch (e.tag) {
      case kTimerComms:
        CommsLostRule::OnDeadline(v, now, *this, sink);
        break;
      case kTimerGnss:
        GnssLostRule::OnDeadline(v, now, sink);
        break;
      case kTimerWindow:
        LateArrivalRule::OnDeadline(v, now, sink);
        MissedStopRule::OnDeadline(v, now, sink);
        RescheduleWindow(v);
        break;
      case kTimerDwell:
        DwellExceededRule::OnDeadline(v, now, sink);
        break;
      case kTimerDoor:
        JudgeAllDoors(v, sink);
        break;
      default:
        break;
    }
  });
}

cit::v1::Fleet Monitor::Fleet() const {
  const SysTime now = clock_->Now();
  cit::v1::Fleet fleet;
  *fleet.mutable_as_of() = ToProto(now);
  std::lock_guard<std::mutex> lock(state_mu_);
  for (const auto& vp : vehicles_) {
    const VehicleState& v = *vp;
    cit::v1::VehicleState* out = fleet.add_vehicles();
    out->set_vehicle_id(v.vehicle_id);
    if (v.last_fix) {
      *out->mutable_last_fix() = v.last_fix_proto;
      *out->mutable_last_fix_time() = ToProto(v.last_fix_time);
      out->set_last_fix_age_s(Seconds(now - v.last_fix_time));
    }
    if (v.has_seen) out->set_last_seen_age_s(Seconds(now - v.last_seen_server));
    out->set_connected(v.has_seen && Seconds(now - v.last_seen_server) < v.limits.comms_loss_s);
    out->set_gnss_state(v.gnss_state);
    out->set_moving(v.motion.moving);
    if (v.last_fix && v.last_fix_proto.has_track_deg()) {
      out->set_heading_deg(v.last_fix_proto.track_deg());
    }
    if (v.last_fix && v.last_fix_proto.has_speed_mps()) {
      out->set_speed_mps(v.last_fix_proto.speed_mps());
    }
    const auto open = alerts_->OpenCountBySeverity(v.vehicle_id);
    uint32_t open_total = 0;
    for (uint32_t n : open) open_total += n;
    out->set_open_alerts(open_total);
    out->set_open_alerts_critical(open[cit::v1::SEVERITY_CRITICAL]);
    out->set_open_alerts_high(open[cit::v1::SEVERITY_HIGH]);
    out->set_open_alerts_medium(open[cit::v1::SEVERITY_MEDIUM]);
    out->set_open_alerts_low(open[cit::v1::SEVERITY_LOW]);
    for (const std::string& b : v.crew.on_board) out->add_crew_on_board(b);
    if (!v.run) continue;
    out->set_run_id(v.run->run_id);
    out->set_run_state(v.run_state);
    out->set_progress_m(v.progress_m);
    const double length = v.run->corridor->length_m();
    out->set_progress_fraction(length > 0 ? std::clamp(v.progress_m / length, 0.0, 1.0) : 0.0);
    if (v.next_stop < static_cast<int>(v.stops.size())) {
      const CompiledStop& s = v.run->stops[v.next_stop];
      out->set_next_stop_id(s.stop_id);
      out->set_next_stop_name(s.name);
      const double remaining = s.progress_m - v.progress_m;
      std::optional<SysTime> eta;
      if (v.has_progress && remaining >= 0 && v.last_fix) {
        const double speed = std::max(v.typical_speed_mps, 5.0);
        eta = v.last_fix_time + FromSeconds(remaining / speed);
        *out->mutable_next_stop_eta() = ToProto(*eta);
      }
      // Late: already flagged by the late-arrival rule, or the window closes before the ETA
      // (before now, when there is no ETA).
      out->set_next_stop_late(v.stops[v.next_stop].late ||
                              (s.latest && eta.value_or(now) > *s.latest));
      if (s.latest) *out->mutable_next_stop_arrival_latest() = ToProto(*s.latest);
    }
  }
  return fleet;
}

}  // namespace cit::dispatch
