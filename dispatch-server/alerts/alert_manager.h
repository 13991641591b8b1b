// The alert lifecycle (DESIGN §6): one open alert per (vehicle, kind, subject), updated rather
// than repeated; open -> acknowledged -> resolved with operator identity and comment; every
// change is an AlertEvent with a strictly increasing event id, so WatchAlerts can resume after
// any event id without gaps or repeats.
//
// Visible first, stored a moment later: an event is published to watchers the moment it is
// made and written to the store by a persister thread in groups (one transaction, one fsync per
// group), so a slow disk never delays an alarm. Operator actions (Acknowledge, Resolve) return
// only once their event is stored. Ids come from blocks reserved durably in advance, so ids a
// watcher saw before a crash are never given to anything else afterwards; after a restart the
// ids jump past the reserved block. What a crash can lose is the last group of monitor-raised
// events (milliseconds); the records they came from are stored before they are acknowledged.
//
//   AlertManager alerts(&store, &clock);
//   CIT_RETURN_IF_ERROR(alerts.Load());
//   alerts.Raise({"truck-7", "run-1"}, signal, /*delay_s=*/0);          // monitor thread
//   alerts.Acknowledge(id, "alice", "calling the crew");                 // API threads
//   uint64_t cursor = alerts.ReadEvents(after, filter, 100, &events);    // watchers
//
// "Open" in this file means "not resolved" (open or acknowledged): a condition that clears and
// returns before an operator resolved the alert updates the same alert (occurrences + 1).
//
// Several instances on one database (issue 15 §3): StartFollowing polls the alert-event log for
// what the other instances stored (by log position, which is commit order) and publishes those
// events to this instance's watchers too, updating the alerts they change, so an alert raised
// on one instance can be acknowledged on another. Watchers read this instance's stream: its own
// events the moment they are made, the others' when polled, each once. Their cursor is a
// stream position (ReadEvents, OpenSnapshot): the event id itself while one instance writes,
// and CursorAfterEvent maps an event id a client resumes from onto it. What a client keeps to
// resume on any instance is a WatchCursor (alerts/watch_cursor.h), given with every event
// ReadEvents returns: the log position through which the watcher saw every stored event, plus
// the ids of this instance's events it saw beyond it. PrepareResume and ReadLog serve a
// watcher resuming from one.
//
// Fencing (several instances, issue 15 §3): the store leaves out the monitor's events for a
// vehicle another instance took over (an instance paused past the takeover, continued before its
// ownership poll noticed). Such an event was published here already (watchers that read it keep
// it); the persister drops it from memory, so later readers of this stream do not get it, puts
// the alert back to its stored state (or forgets it when it was never stored), counts it
// (cit_alerts_fenced_total), logs it (event=alert_fenced, rate-limited) and tells the fenced
// listener, which releases the vehicle here (OwnershipFollower::OnFenced).
//
// Thread contract: all methods are thread-safe (one mutex for the state; the store is written
// by the persister thread without it, except the rare id reservation). Listeners are called
// after the mutex is released, from the thread that made the change; they must not block.
#ifndef CIT_DISPATCH_SERVER_ALERTS_ALERT_MANAGER_H_
#define CIT_DISPATCH_SERVER_ALERTS_ALERT_MANAGER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/alerts/alert_signal.h"
#include "dispatch-server/alerts/alert_store.h"
#include "dispatch-server/alerts/watch_cursor.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/common/refusal_log.h"
#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

// Which alerts a watcher or a list wants.
struct AlertFilter {
  cit::v1::Severity min_severity = cit::v1::SEVERITY_UNSPECIFIED;
  std::vector<std::string> vehicle_ids;     // empty = all
  std::string run_id;                       // empty = all
  std::vector<cit::v1::AlertState> states;  // empty = all
  bool Matches(const cit::v1::Alert& alert) const;
};

class AlertManager {
 public:
  // Ids are handed out from durably reserved blocks of this size by default (per manager: with
  // several instances on one database each takes its own blocks, so ids are unique but those
  // of two instances interleave).
  static constexpr uint64_t kDefaultIdBlock = 10'000;
  // Alert.occurrence_times keeps this many of the latest occurrences (the count is unbounded).
  static constexpr int kOccurrenceTimesKept = 16;

  struct Owner {
    std::string vehicle_id;
    std::string run_id;
    // Version of the run's plan the vehicle is judged against (0: no run).
    uint32_t plan_version = 0;
  };

  // `store` may be null (memory only, for tests and benchmarks). Both must outlive this.
  // `id_block`: ids reserved per store round trip (tests make it small).
  AlertManager(AlertStore* store, const Clock* clock, size_t memory_events = 200'000,
               uint64_t id_block = kDefaultIdBlock);
  // Stores what is still queued, then stops the persister.
  ~AlertManager();
  AlertManager(const AlertManager&) = delete;
  AlertManager& operator=(const AlertManager&) = delete;

  // Reads the stored alerts and recent events and starts the persister; call once before use.
  absl::Status Load();

  struct FollowOptions {
    // How often the log is read for other instances' events (a full batch reads again at once).
    std::chrono::milliseconds interval{200};
    // Events read per query.
    size_t batch = 500;
  };
  // Starts publishing the events other instances store (see the file comment); after Load and
  // SetMetrics, at most once. Read errors are logged and counted
  // (cit_alert_follow_errors_total) and retried with backoff; nothing is skipped.
  absl::Status StartFollowing(FollowOptions options);
  // Reads the alert-event log up to its end now (what StartFollowing does every interval), so
  // that what another instance stored a moment ago is known here: a takeover's state rebuild
  // matches the run's stored alerts against it (monitor/state_rebuild.h). Any thread.
  absl::Status CatchUp();
  // Waits until every event made so far is stored; DEADLINE_EXCEEDED if that takes longer
  // than `timeout` (the store keeps failing). Always OK without a store.
  absl::Status WaitStored(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  // Opens or updates the alert for (owner.vehicle_id, signal.kind, signal.subject). `delay_s`
  // > 0 marks it delayed (raised from backfilled records). `record_received`: when the ingest
  // received the live record that raised it, for the record-to-alert latency histogram.
  // Returns the alert id.
  absl::StatusOr<uint64_t> Raise(
      const Owner& owner, const AlertSignal& signal, double delay_s,
      std::optional<std::chrono::system_clock::time_point> record_received = std::nullopt);

  // Exports cit_alerts_opened_total{kind}, cit_alert_events_total and the record-to-alert
  // latency histogram. Call before use; the registry is kept alive by the manager.
  void SetMetrics(std::shared_ptr<MetricsRegistry> registry);
  // Records that the condition ceased; no-op when no alert is open for the key or it is already
  // cleared.
  absl::Status Clear(const std::string& vehicle_id, cit::v1::AlertKind kind,
                     const std::string& subject, SysTime event_time, const std::string& details);

  absl::StatusOr<cit::v1::Alert> Acknowledge(uint64_t alert_id, const std::string& actor,
                                             const std::string& comment);
  // Resolving a CRITICAL alert needs a non-blank comment (INVALID_ARGUMENT otherwise).
  absl::StatusOr<cit::v1::Alert> Resolve(uint64_t alert_id, const std::string& actor,
                                         const std::string& comment);

  // One step of the configured escalation policy (notify/escalator.h): while the alert is still
  // OPEN (not acknowledged, not resolved) and has gone through fewer than `step` policy steps,
  // sets Alert.policy_step = step, raises the severity to at least `raise_to` (UNSPECIFIED:
  // unchanged) and emits an ESCALATED event by actor "escalation" with `comment`. Returns the
  // event; FAILED_PRECONDITION when the alert was acknowledged, resolved or already past `step`.
  absl::StatusOr<cit::v1::AlertEvent> EscalateByPolicy(uint64_t alert_id, uint32_t step,
                                                       cit::v1::Severity raise_to,
                                                       const std::string& comment);

  absl::StatusOr<cit::v1::Alert> Get(uint64_t alert_id) const;
  std::vector<cit::v1::Alert> List(const AlertFilter& filter) const;
  // Alerts not yet resolved, per vehicle.
  size_t OpenCount(const std::string& vehicle_id) const;
  // The same, by severity: index cit::v1::Severity (SEVERITY_LOW .. SEVERITY_CRITICAL).
  std::array<uint32_t, cit::v1::Severity_ARRAYSIZE> OpenCountBySeverity(
      const std::string& vehicle_id) const;

  // Appends to `out` up to `max` events after stream position `cursor` that match `filter`, in
  // stream order. Returns the new cursor: the position of the last event examined (matching or
  // not), so a filtered watcher never rescans. Older events than memory holds are read from the
  // store (by event id: exact while one instance writes the database).
  // `cursors` (optional) gets, for each event appended to `out`, what a watcher has seen once
  // it has that event (nullopt for events read from the store by event id: they give none).
  absl::StatusOr<uint64_t> ReadEvents(
      uint64_t cursor, const AlertFilter& filter, size_t max, std::vector<cit::v1::AlertEvent>* out,
      std::vector<std::optional<WatchCursor>>* cursors = nullptr) const;

  // Where a watcher resuming from a WatchCursor goes on here: it reads the stored events at log
  // positions after its cursor's up to `log_through` (ReadLog), then `own_tail` (this
  // instance's events beyond that position or not stored yet, each with its cursor), then this
  // stream live after `stream_position` (ReadEvents). Together: every event not seen, once.
  struct ResumePoint {
    uint64_t log_through = 0;
    std::vector<std::pair<cit::v1::AlertEvent, WatchCursor>> own_tail;
    uint64_t stream_position = 0;
  };
  // Reads the log up to its end first (CatchUp), so the cursor of a watcher coming from an
  // instance whose follower is ahead of this one's is covered. Reads the store.
  absl::StatusOr<ResumePoint> PrepareResume();
  // Appends to `out` up to `max` stored events at log positions in (after, through], in log
  // order, with their cursors; returns the position of the last one read (`through` once
  // there is nothing more up to it). Reads the store.
  absl::StatusOr<uint64_t> ReadLog(uint64_t after, uint64_t through, size_t max,
                                   std::vector<std::pair<cit::v1::AlertEvent, WatchCursor>>* out);
  // The cursor to resume after the event `event_id` a client saw: its stream position when
  // memory holds it, else the id (a position is the event id while one instance writes).
  uint64_t CursorAfterEvent(uint64_t event_id) const;
  // Every event of one alert, ascending event id: the stored ones from the store, those not
  // yet stored from memory. NOT_FOUND for an unknown alert id.
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsOf(uint64_t alert_id) const;
  // Current state of every unresolved alert matching `filter`, each as an event carrying the
  // alert's latest event id; *as_of is the stream position at snapshot time (the cursor to read
  // on from).
  // `as_of_cursor` (optional): what a watcher has seen once it has the snapshot.
  std::vector<cit::v1::AlertEvent> OpenSnapshot(const AlertFilter& filter, uint64_t* as_of,
                                                WatchCursor* as_of_cursor = nullptr) const;
  // The newest event id this manager made (after Load: the highest stored or reserved).
  uint64_t last_event_id() const;

  // Called from the persister thread (no lock held) once per vehicle of each group the store
  // fenced, with its first fenced event; must not block. Any thread, any time; once it returns,
  // the previous listener is not running and is not called again (nullptr: none).
  using FencedListener = std::function<void(const AlertStore::FencedEvent&)>;
  void SetFencedListener(FencedListener listener);
  // Events the store fenced so far (also in cit_alerts_fenced_total).
  uint64_t fenced_events() const;

  // Called (without the mutex) after each new event, this instance's or another's; returns a
  // handle for RemoveListener.
  int AddListener(std::function<void()> listener);
  void RemoveListener(int handle);

 private:
  using Key = std::tuple<std::string, int, std::string>;  // vehicle, kind, subject

  // Appends an event for the alert's current state (mutex held) and queues it for the store.
  absl::Status EmitLocked(cit::v1::Alert& alert, cit::v1::AlertEventType type,
                          const std::string& actor = kMonitorActor,
                          const std::string& comment = "");
  // Makes sure the next event id (and, with `new_alert`, the next alert id) is reserved: takes
  // a new block from the store when the current one is used up.
  absl::Status ReserveLocked(bool new_alert);
  // An event in memory at its stream position; `followed`: made by another instance (stored).
  // The rest is the watcher's cursor once it has the event (CursorOfLocked): the follower's
  // log position when the event was published, this manager's own events the follower had
  // read back by then (ids up to own_covered) and had made (up to own_last).
  struct Published {
    uint64_t position = 0;
    bool followed = false;
    cit::v1::AlertEvent event;
    uint64_t log_through = 0;
    uint64_t own_covered = 0;
    uint64_t own_last = 0;
  };
  // Published's cursor fields for an event published now.
  Published PublishedNowLocked(uint64_t position, bool followed, cit::v1::AlertEvent event) const;
  WatchCursor CursorOfLocked(uint64_t log_through, uint64_t own_covered, uint64_t own_last) const;

  // The position for the next event: past the last one and at least the event id, so that it
  // is the event id while one instance writes (ids then increase by one per event).
  uint64_t NextPositionLocked(uint64_t event_id);
  // Drops the oldest stored events beyond memory_events_.
  void TrimMemoryLocked();
  // Whether this manager made the event (its id lies in a block this manager reserved).
  bool IsOwnEventLocked(uint64_t event_id) const;
  // Applies another instance's event: the alert's state follows, watchers get the event.
  void ApplyFollowedLocked(cit::v1::AlertEvent event);
  // One read of the log after follow_position_; returns how many events it read.
  absl::StatusOr<size_t> FollowOnce(size_t batch);
  void FollowLoop(FollowOptions options);
  // Waits until the event is stored (operator actions return only then).
  absl::Status WaitStoredThrough(uint64_t event_id, std::chrono::milliseconds timeout) const;
  void PersistLoop();
  // The store left `fenced` (of the group just appended) out: restores the alerts they changed
  // to their stored state, counts and logs them, tells the listener (alert_manager_fencing.cc).
  // No lock held.
  void DropFenced(const std::vector<AlertStore::FencedEvent>& fenced,
                  const std::vector<cit::v1::AlertEvent>& group);
  // Puts the alert back to `stored` (its latest stored event; nullopt: never stored). mu_ held.
  void RestoreStoredLocked(uint64_t alert_id, const std::optional<cit::v1::AlertEvent>& stored);
  void Notify(uint64_t events = 1);

  AlertStore* store_;
  const Clock* clock_;
  size_t memory_events_;
  uint64_t id_block_;

  std::shared_ptr<MetricsRegistry> metrics_;
  Counter* opened_[cit::v1::AlertKind_ARRAYSIZE] = {};
  Counter* events_total_ = nullptr;
  Histogram* record_to_alert_ = nullptr;
  Counter* followed_total_ = nullptr;
  Counter* follow_errors_ = nullptr;
  Counter* fenced_total_ = nullptr;
  std::atomic<uint64_t> fenced_events_{0};
  // Held while the listener runs, so that replacing it waits for a call in flight.
  std::mutex fenced_listener_mu_;
  FencedListener fenced_listener_;  // guarded by fenced_listener_mu_
  RefusalLog fenced_log_{"alerts",
                         {.burst = 10,
                          .interval = std::chrono::seconds(60),
                          .flush_period = std::chrono::milliseconds(0)}};

  mutable std::mutex mu_;
  std::map<uint64_t, cit::v1::Alert> alerts_;
  std::map<Key, uint64_t> open_;                // unresolved alert per key
  std::map<uint64_t, uint64_t> last_event_of_;  // alert id -> its latest event id
  std::deque<Published> events_;                // newest memory_events_ events, by position
  // The newest event id this manager made (or, after Load, possibly shown before a restart).
  uint64_t last_event_id_ = 0;
  uint64_t last_position_ = 0;  // stream position of the newest event in events_
  // Events at positions up to this one may be only in the store (memory dropped them, or Load
  // left them there); those after it are all in memory.
  uint64_t dropped_through_ = 0;
  // Event id blocks this manager reserved since Load: [first, last] (IsOwnEventLocked).
  std::vector<std::pair<uint64_t, uint64_t>> own_event_blocks_;
  // Log position through which the stored events are published here (the follower's cursor).
  uint64_t follow_position_ = 0;
  // This manager's own events: the highest id the follower read back from the log (every own
  // event up to it is at a log position <= follow_position_; they are stored in id order), and
  // the highest id made.
  uint64_t own_followed_through_ = 0;
  uint64_t own_made_through_ = 0;
  // What is left of the reserved id blocks: [next_*, *_through_], empty when next > through
  // (the next id needed reserves a new block). Without a store, one endless block.
  uint64_t next_alert_id_ = 1;
  uint64_t alert_ids_through_ = 0;
  uint64_t next_event_id_ = 1;
  uint64_t event_ids_through_ = 0;

  // Persister: events made but not yet stored, ascending id (mu_ -> persist_mu_ order).
  mutable std::mutex persist_mu_;
  mutable std::condition_variable persist_cv_;  // work for the persister
  mutable std::condition_variable stored_cv_;   // stored_event_id_ moved
  std::vector<cit::v1::AlertEvent> to_store_;
  std::atomic<uint64_t> stored_event_id_{0};
  bool persist_stop_ = false;
  std::thread persister_;

  // Follower (StartFollowing): stopped before the persister.
  std::mutex follow_mu_;
  std::condition_variable follow_cv_;
  bool follow_stop_ = false;
  std::thread follower_;

  std::mutex listeners_mu_;
  std::map<int, std::function<void()>> listeners_;
  int next_listener_ = 1;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_ALERTS_ALERT_MANAGER_H_
