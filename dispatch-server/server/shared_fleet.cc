#include "dispatch-server/server/shared_fleet.h"

#include <algorithm>
#include <span>
#include <unordered_set>
#include <utility>
#include <vector>

#include "dispatch-server/api/fleet_feed.h"
#include "spdlog/spdlog.h"

namespace cit::dispatch {

SharedFleet::SharedFleet(SharedFleetOptions options, std::unique_ptr<PostgresFleetStates> table,
                         const Monitor* monitor, const OwnershipFollower* ownership,
                         const Clock* clock)
    : options_(std::move(options)),
      table_(std::move(table)),
      monitor_(monitor),
      ownership_(ownership),
      clock_(clock) {}

SharedFleet::~SharedFleet() { Stop(); }

void SharedFleet::SetMetrics(std::shared_ptr<MetricsRegistry> registry) {
  std::lock_guard<std::mutex> lock(mu_);
  metrics_ = std::move(registry);
}

void SharedFleet::Count(const char* name, const char* help, uint64_t n) {
  std::shared_ptr<MetricsRegistry> metrics;
  {
    std::lock_guard<std::mutex> lock(mu_);
    metrics = metrics_;
  }
  if (metrics != nullptr && n > 0) metrics->GetCounter(name, help).Increment(n);
}

std::unordered_map<std::string, uint64_t> SharedFleet::JudgedHere() const {
  std::unordered_map<std::string, uint64_t> owned = ownership_->Owned();
  // Just taken over: until its state is rebuilt from the store, this monitor's is stale and the
  // previous owner's row is the newer judgement.
  for (const std::string& id : monitor_->HeldVehicles()) owned.erase(id);
  return owned;
}

cit::v1::Fleet SharedFleet::Fleet() const {
  cit::v1::Fleet fleet = monitor_->Fleet();
  const std::unordered_map<std::string, uint64_t> owned = JudgedHere();
  const SysTime now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  std::unordered_set<std::string> listed;
  for (cit::v1::VehicleState& v : *fleet.mutable_vehicles()) {
    listed.insert(v.vehicle_id());
    if (owned.count(v.vehicle_id()) != 0) continue;  // judged here: the monitor is current
    // Judged elsewhere (or by nobody since its last owner published): the owner's state, not
    // what this monitor last judged before it lost the vehicle.
    if (auto r = remote_.find(v.vehicle_id()); r != remote_.end()) v = Aged(r->second, now);
  }
  for (const auto& [id, r] : remote_) {
    if (listed.count(id) == 0 && owned.count(id) == 0) *fleet.add_vehicles() = Aged(r, now);
  }
  return fleet;
}

cit::v1::VehicleState SharedFleet::Aged(const Remote& r, SysTime now) const {
  cit::v1::VehicleState v = r.state;
  if (v.has_last_fix_time()) v.set_last_fix_age_s(Seconds(now - FromProto(v.last_fix_time())));
  if (v.last_seen_age_s() > 0 || v.connected()) {
    const double since_read = std::max(0.0, Seconds(now - r.read_at));
    v.set_last_seen_age_s(v.last_seen_age_s() + std::max(0.0, r.age_at_read_s) + since_read);
  }
  return v;
}

absl::Status SharedFleet::SyncOnce() {
  std::lock_guard<std::mutex> lock(sync_mu_);
  absl::Status published = Publish();
  absl::Status read = Read();  // even when the publish failed: the view stays live
  return published.ok() ? read : published;
}

absl::Status SharedFleet::Publish() {
  const std::unordered_map<std::string, uint64_t> owned = JudgedHere();
  if (owned.empty()) return absl::OkStatus();
  cit::v1::Fleet fleet = monitor_->Fleet();
  std::vector<FleetStateWrite> writes;
  std::unordered_map<std::string, std::string> fingerprints;
  for (const cit::v1::VehicleState& v : fleet.vehicles()) {
    auto o = owned.find(v.vehicle_id());
    if (o == owned.end()) continue;
    std::string fingerprint = FleetFingerprint(v);
    auto last = last_published_.find(v.vehicle_id());
    if (last != last_published_.end() && last->second.first == o->second &&
        last->second.second == fingerprint) {
      continue;  // unchanged under the same token
    }
    writes.push_back({v.vehicle_id(), o->second, v.SerializeAsString()});
    fingerprints[v.vehicle_id()] = std::move(fingerprint);
  }
  size_t written_total = 0;
  const size_t step = PostgresFleetStates::kMaxRowsPerPublish;
  for (size_t from = 0; from < writes.size(); from += step) {
    std::span<const FleetStateWrite> batch(writes.data() + from,
                                           std::min(step, writes.size() - from));
    absl::StatusOr<std::vector<std::string>> written = table_->Publish(options_.instance, batch);
    if (!written.ok()) return written.status();  // not marked published: retried next interval
    for (const std::string& id : *written) {
      last_published_[id] = {owned.at(id), std::move(fingerprints[id])};
    }
    written_total += written->size();
  }
  // Fenced rows are tried again while the follower still lists the vehicle as ours (it learns
  // of the takeover at its next poll).
  const size_t fenced = writes.size() - written_total;
  {
    std::lock_guard<std::mutex> lock(mu_);
    published_ += written_total;
    fenced_ += fenced;
  }
  Count("cit_fleet_states_published_total",
        "Vehicle states this instance published to the shared fleet view (PostgreSQL).",
        written_total);
  Count("cit_fleet_states_fenced_total",
        "Vehicle states not published because another instance owns the vehicle now.", fenced);
  // Vehicles no longer ours: forget them, so a later takeover publishes at once.
  std::erase_if(last_published_, [&](const auto& e) { return owned.count(e.first) == 0; });
  return absl::OkStatus();
}

absl::Status SharedFleet::Read() {
  size_t total = 0;
  for (int page = 0; page < options_.max_pages; ++page) {
    absl::StatusOr<std::vector<FleetStateRow>> rows =
        table_->ReadAfter(cursor_, options_.read_page);
    if (!rows.ok()) return rows.status();
    const SysTime now = clock_->Now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (FleetStateRow& row : *rows) {
        Remote r;
        if (!r.state.ParseFromString(row.state)) {
          spdlog::error("event=fleet_state_unparsable vehicle={} owner={}", row.vehicle_id,
                        row.owner);
          continue;
        }
        r.owner = std::move(row.owner);
        r.fencing_token = row.fencing_token;
        r.age_at_read_s = row.age_s;
        r.read_at = now;
        remote_[row.vehicle_id] = std::move(r);
      }
      read_ += rows->size();
    }
    total += rows->size();
    if (!rows->empty()) cursor_ = {rows->back().updated_at_us, rows->back().vehicle_id};
    if (rows->size() < options_.read_page) break;
  }
  Count("cit_fleet_states_read_total",
        "Vehicle states read from the shared fleet view (published by any instance).", total);
  return absl::OkStatus();
}

void SharedFleet::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void SharedFleet::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SharedFleet::Loop() {
  int failures = 0;
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, options_.interval, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    absl::Status s = SyncOnce();
    lock.lock();
    if (s.ok()) {
      if (failures > 0) spdlog::info("event=fleet_share_recovered failures={}", failures);
      failures = 0;
      continue;
    }
    ++failures;
    Count("cit_fleet_share_failures_total",
          "Intervals whose fleet-view publish or read failed (retried the next interval).", 1);
    // Every failure while few, then one in 60: a database outage does not flood the log.
    if (failures <= 3 || failures % 60 == 0) {
      spdlog::error("event=fleet_share_failed failures={} error=\"{}\"", failures, s.ToString());
    }
  }
}

uint64_t SharedFleet::published() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_;
}

uint64_t SharedFleet::fenced() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fenced_;
}

uint64_t SharedFleet::read() const {
  std::lock_guard<std::mutex> lock(mu_);
  return read_;
}

}  // namespace cit::dispatch
