#include "dispatch-server/server/ownership_follower.h"

#include <optional>
#include <string_view>
#include <utility>

#include "spdlog/spdlog.h"

namespace cit::dispatch {
namespace {

// Live run of the vehicle (compiled), if it has one.
std::optional<RunChange> LiveRunOf(const RunManager& runs, const std::string& vehicle_id) {
  for (RunChange& c : runs.LiveRuns()) {
    if (c.run.plan().vehicle_id() == vehicle_id) return std::move(c);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OwnershipFollower>> OwnershipFollower::Open(
    OwnershipFollowerOptions options, Monitor* monitor, StateRebuilder* rebuilder,
    const RunManager* runs, const Clock* clock) {
  if (options.instance.empty()) {
    return absl::InvalidArgumentError("following vehicle ownership needs this instance's name");
  }
  absl::StatusOr<std::unique_ptr<VehicleOwnerReader>> reader =
      VehicleOwnerReader::Open(options.postgres_connection);
  if (!reader.ok()) return reader.status();
  std::unique_ptr<OwnershipFollower> f(new OwnershipFollower(std::move(options), *std::move(reader),
                                                             monitor, rebuilder, runs, clock));
  // Alive before the ingest takes any vehicle over: no survivor adopts what it just took.
  if (absl::Status s = f->reader_->Beat(f->options_.instance); !s.ok()) return s;
  absl::StatusOr<std::vector<VehicleOwner>> owners = f->reader_->Read(f->options_.instance_expiry);
  if (!owners.ok()) return owners.status();
  std::lock_guard<std::mutex> lock(f->mu_);
  f->ApplyOwnersLocked(*owners, /*initial=*/true);
  spdlog::info("event=ownership_follow_started instance={} owned_here={} owned_elsewhere={}",
               f->options_.instance, f->mine_.size(), f->elsewhere_.size());
  return f;
}

OwnershipFollower::OwnershipFollower(OwnershipFollowerOptions options,
                                     std::unique_ptr<VehicleOwnerReader> reader, Monitor* monitor,
                                     StateRebuilder* rebuilder, const RunManager* runs,
                                     const Clock* clock)
    : options_(std::move(options)),
      reader_(std::move(reader)),
      monitor_(monitor),
      rebuilder_(rebuilder),
      runs_(runs),
      clock_(clock),
      started_at_(clock->Now()) {}

OwnershipFollower::~OwnershipFollower() { Stop(); }

void OwnershipFollower::SetMetrics(std::shared_ptr<MetricsRegistry> registry) {
  std::lock_guard<std::mutex> lock(mu_);
  metrics_ = std::move(registry);
}

void OwnershipFollower::SetStore(std::shared_ptr<Store> store) {
  std::lock_guard<std::mutex> lock(mu_);
  store_ = std::move(store);
}

void OwnershipFollower::Count(const char* transition) {
  if (metrics_ == nullptr) return;
  metrics_
      ->GetCounter("cit_monitor_ownership_transitions_total",
                   "Vehicles this instance's monitor started or stopped evaluating because their "
                   "owner changed (several instances on one database)",
                   {{"transition", transition}})
      .Increment();
}

void OwnershipFollower::OnTakenOver(const std::string& vehicle_id, uint64_t fencing_token) {
  std::lock_guard<std::mutex> lock(mu_);
  TakeOverLocked(vehicle_id, fencing_token, /*adopted=*/false);
}

void OwnershipFollower::OnFenced(const std::string& vehicle_id, const std::string& owner,
                                 uint64_t fencing_token) {
  std::lock_guard<std::mutex> lock(mu_);
  // The same as a poll reading this owner (ApplyOwnersLocked after Open).
  ApplyOwnersLocked({VehicleOwner{.vehicle_id = vehicle_id,
                                  .owner = owner,
                                  .fencing_token = fencing_token,
                                  .owner_alive = true}},
                    /*initial=*/false);
}

void OwnershipFollower::TakeOverLocked(const std::string& vehicle_id, uint64_t fencing_token,
                                       bool adopted) {
  // The token before this one was ours and nobody took the vehicle meanwhile: every record
  // since went through this monitor, its state is current.
  auto it = mine_.find(vehicle_id);
  const bool continuous = !adopted && it != mine_.end() && it->second + 1 == fencing_token;
  const uint64_t previous = it != mine_.end() ? it->second : 0;
  mine_[vehicle_id] = fencing_token;
  elsewhere_.erase(vehicle_id);
  spdlog::info(
      "event=monitor_takeover vehicle={} fencing_token={} previous_token_here={} rebuild={}",
      vehicle_id, fencing_token, previous, !continuous);
  if (continuous) {
    ++continued_;
    Count("taken_over_continued");
    return;
  }
  ++rebuilt_;
  Count("taken_over_rebuilt");
  // Before the Welcome, so before any new record: they wait for the rebuilt state.
  // Adopted: the agent could have reached this instance since it started, and did not.
  monitor_->Resume(vehicle_id, adopted ? std::optional<SysTime>(started_at_) : std::nullopt);
  rebuilder_->Retake(vehicle_id, LiveRunOf(*runs_, vehicle_id), clock_->Now());
}

absl::Status OwnershipFollower::PollOnce() {
  if (absl::Status s = reader_->Beat(options_.instance); !s.ok()) return s;
  absl::StatusOr<std::vector<VehicleOwner>> owners = reader_->Read(options_.instance_expiry);
  if (!owners.ok()) return owners.status();
  std::vector<VehicleOwner> candidates;
  std::shared_ptr<Store> store;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ApplyOwnersLocked(*owners, /*initial=*/false);
    candidates = AdoptionCandidatesLocked(*owners);
    store = store_;
  }
  if (store != nullptr) Adopt(*store, candidates);
  return absl::OkStatus();
}

std::vector<VehicleOwner> OwnershipFollower::AdoptionCandidatesLocked(
    const std::vector<VehicleOwner>& owners) const {
  std::vector<VehicleOwner> out;
  if (store_ == nullptr) return out;
  std::unordered_map<std::string_view, const VehicleOwner*> by_vehicle;
  for (const VehicleOwner& o : owners) by_vehicle[o.vehicle_id] = &o;
  std::unordered_set<std::string> seen;
  for (const RunChange& c : runs_->LiveRuns()) {
    const std::string& vehicle = c.run.plan().vehicle_id();
    if (!seen.insert(vehicle).second) continue;
    auto o = by_vehicle.find(vehicle);
    if (o == by_vehicle.end()) {
      out.push_back(VehicleOwner{vehicle, "", 0, false});  // nobody took it over yet
    } else if (o->second->owner != options_.instance && !o->second->owner_alive) {
      out.push_back(*o->second);
    }
  }
  return out;
}

void OwnershipFollower::Adopt(Store& store, const std::vector<VehicleOwner>& candidates) {
  for (const VehicleOwner& c : candidates) {
    // A database transaction: outside mu_, so takeovers and the monitor are not held up.
    absl::StatusOr<std::optional<uint64_t>> token =
        store.AdoptOwnership(c.vehicle_id, c.owner, c.fencing_token);
    if (!token.ok()) {
      spdlog::error("event=vehicle_adoption_failed vehicle={} previous_owner={} error=\"{}\"",
                    c.vehicle_id, c.owner, token.status().ToString());
      continue;  // the next poll tries again
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!token->has_value()) {
      // Another instance adopted or took it first; the next reading releases it here.
      spdlog::debug("event=vehicle_adoption_lost vehicle={} previous_owner={}", c.vehicle_id,
                    c.owner);
      continue;
    }
    auto mine = mine_.find(c.vehicle_id);
    if (mine != mine_.end() && mine->second >= **token) continue;  // a later takeover here
    ++adopted_;
    Count("adopted");
    spdlog::warn(
        "event=vehicle_adopted vehicle={} previous_owner={} previous_owner_state={} "
        "previous_token={} fencing_token={}",
        c.vehicle_id, c.owner.empty() ? "none" : c.owner, c.owner.empty() ? "none" : "expired",
        c.fencing_token, **token);
    TakeOverLocked(c.vehicle_id, **token, /*adopted=*/true);
  }
}

void OwnershipFollower::ApplyOwnersLocked(const std::vector<VehicleOwner>& owners, bool initial) {
  for (const VehicleOwner& o : owners) {
    auto mine = mine_.find(o.vehicle_id);
    if (o.owner == options_.instance) {
      // Ours from before a restart under this name: the start-up rebuild covers it. Later
      // takeovers of ours arrive through OnTakenOver, before this reading can show them.
      if (initial) mine_[o.vehicle_id] = o.fencing_token;
      continue;
    }
    // A reading older than our own later takeover says nothing new.
    if (mine != mine_.end() && mine->second >= o.fencing_token) continue;
    auto [where, first] = elsewhere_.try_emplace(o.vehicle_id, o.fencing_token);
    where->second = o.fencing_token;
    if (!first) continue;  // released already
    const bool was_mine = mine != mine_.end();
    if (was_mine) mine_.erase(mine);
    monitor_->Release(o.vehicle_id);
    if (initial) continue;  // summarised in ownership_follow_started
    ++released_;
    Count("released");
    spdlog::log(was_mine ? spdlog::level::info : spdlog::level::debug,
                "event=monitor_vehicle_released vehicle={} owner={} fencing_token={} was_owner={}",
                o.vehicle_id, o.owner, o.fencing_token, was_mine);
  }
}

void OwnershipFollower::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void OwnershipFollower::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OwnershipFollower::Loop() {
  uint64_t failures = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.poll_interval, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    absl::Status s = PollOnce();
    lock.lock();
    if (s.ok()) {
      if (failures > 0) spdlog::info("event=ownership_follow_recovered failures={}", failures);
      failures = 0;
      continue;
    }
    // Retried at the next interval; until then the vehicles stay as they were (logged).
    if (++failures == 1 || failures % 60 == 0) {
      spdlog::error("event=ownership_follow_failed failures={} error=\"{}\"", failures,
                    s.ToString());
    }
  }
}

std::unordered_map<std::string, uint64_t> OwnershipFollower::Owned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mine_;
}

uint64_t OwnershipFollower::released() const {
  std::lock_guard<std::mutex> lock(mu_);
  return released_;
}

uint64_t OwnershipFollower::rebuilt_takeovers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rebuilt_;
}

uint64_t OwnershipFollower::adopted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return adopted_;
}

uint64_t OwnershipFollower::continued_takeovers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return continued_;
}

}  // namespace cit::dispatch
