// The alert-event log as a hash chain: every alert event (raised, updated, escalated,
// re-occurred, cleared, acknowledged, resolved, with actor and comment) is one append-only row of
// alert_events, chained server-wide in event order ("alerts"):
//   h_0 = 32 zero bytes,
//   h_n = SHA-256(h_{n-1} || CanonicalEntryBytes("citwatch.alert_event.v1", n, event_id, body_n))
// where body_n is the stored AlertEvent serialisation. UPDATE and DELETE are refused by triggers.
// The `alerts` table stays the current-state index; VerifyAlertRows cross-checks it.
//
// Schema steps (component "alerts"): kAlertChainColumnsSql adds chain_index and hash; existing
// events are then chained once by SealUnchainedAlertEvents (a database from before the chain;
// logged), and kAlertChainSealSql adds the triggers.
//
// Thread contract: functions use `db` for the call only; the caller serialises writers.
#ifndef CIT_DISPATCH_STORE_ALERT_EVENT_CHAIN_H_
#define CIT_DISPATCH_STORE_ALERT_EVENT_CHAIN_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/store/chain_check.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

inline constexpr char kAlertChainName[] = "alerts";

inline constexpr char kAlertChainColumnsSql[] = R"sql(
ALTER TABLE alert_events ADD COLUMN chain_index INTEGER;  -- position in the alert-event chain
ALTER TABLE alert_events ADD COLUMN hash BLOB;
)sql";

inline constexpr char kAlertChainSealSql[] = R"sql(
CREATE UNIQUE INDEX alert_events_by_chain ON alert_events (chain_index);
CREATE TRIGGER alert_events_append_only_update BEFORE UPDATE ON alert_events
  BEGIN SELECT RAISE(ABORT, 'alert_events are append-only'); END;
CREATE TRIGGER alert_events_append_only_delete BEFORE DELETE ON alert_events
  BEGIN SELECT RAISE(ABORT, 'alert_events are append-only'); END;
CREATE TRIGGER alert_events_chained BEFORE INSERT ON alert_events
  WHEN NEW.chain_index IS NULL OR NEW.hash IS NULL
  BEGIN SELECT RAISE(ABORT, 'alert_events need chain_index and hash'); END;
)sql";

struct AlertChainHead {
  uint64_t length = 0;
  std::string head;  // h_length (32 bytes)
};

absl::StatusOr<AlertChainHead> LoadAlertChainHead(sqlite::Database& db);

// Chains, in event id order, the events stored before the chain existed (between the two
// schema steps above). Returns how many were chained.
absl::StatusOr<uint64_t> SealUnchainedAlertEvents(sqlite::Database& db);

// h_index for an event; fails (nothing may be stored then) if hashing fails.
absl::StatusOr<std::string> AlertEventHash(std::string_view prev, uint64_t index, uint64_t event_id,
                                           std::string_view body);

// One stored row of the alert-event log as the chain check reads it.
struct AlertChainRow {
  std::optional<uint64_t> chain_index;  // absent: inserted without a chain position
  uint64_t event_id = 0;
  uint64_t alert_id = 0;
  std::string body;  // the stored AlertEvent
  std::string hash;
};

// The chain check over rows in chain_index order from any backend: `next` fills the next row
// and returns false after the last. Recomputes every hash, cross-checks the event_id/alert_id
// columns with each body, names the first broken entry and compares with `anchors`.
absl::StatusOr<ChainReport> VerifyAlertChainRows(
    const std::function<absl::StatusOr<bool>(AlertChainRow&)>& next,
    std::vector<ChainAnchor> anchors);

// The same over the SQLite file: recomputes the whole chain, cross-checks event_id/alert_id
// columns with each body, compares with `anchors`.
absl::StatusOr<ChainReport> VerifyAlertChain(sqlite::Database& db,
                                             std::vector<ChainAnchor> anchors);

// Cross-checks the current `alerts` rows of `run_id` against the log: each must equal the alert
// in its newest event, and every alert the log has for the run must have its row. Reported as
// chain "alerts/<run_id>".
absl::StatusOr<ChainReport> VerifyAlertRows(sqlite::Database& db, const std::string& run_id);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_ALERT_EVENT_CHAIN_H_
