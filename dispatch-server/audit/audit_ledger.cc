#include "dispatch-server/audit/audit_ledger.h"

#include <openssl/evp.h>

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dispatch-server/audit/checkpoint_log.h"
#include "dispatch-server/audit/postgres_audit_log.h"
#include "dispatch-server/audit/postgres_chain_mirror.h"
#include "dispatch-server/store/alert_event_chain.h"
#include "dispatch-server/store/chain_check.h"
#include "dispatch-server/store/identity_chain.h"
#include "dispatch-server/store/plan_version_chain.h"
#include "dispatch-server/store/record_chain_check.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

constexpr uint32_t kMaxListCheckpoints = 1000;
constexpr uint32_t kMaxListIdentityEvents = 10000;

std::string Sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 EVP_sha256(), nullptr) != 1) {
    return "";
  }
  return out;
}

// Entries that appeared while the server was stopped: between a "shutdown" checkpoint and the
// "startup" checkpoint after it, a chain grew (nothing appends while the server is down). With
// several instances on one database (one checkpoint chain), only while none was running: from
// the shutdown checkpoint that left no instance running to the next checkpoint of any instance;
// what one instance stored while another was stopped is vouched for by the one running.
struct StoppedGap {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t shutdown_id = 0;
  uint64_t startup_id = 0;
  std::string shutdown_instance;  // "" on SQLite (one server)
  std::string startup_instance;
};

// Which instances are running as the checkpoint chain is read: an instance runs from its first
// checkpoint after a shutdown (its "startup") to its "shutdown". One that crashed wrote no
// shutdown and counts as running until it starts again: like a crash of the single server, it
// leaves an interval nothing vouches for and nothing reports.
class RunningInstances {
 public:
  // Returns the shutdown checkpoint id after which no instance ran until `c`, if so.
  std::optional<uint64_t> Read(const cit::v1::Checkpoint& c) {
    std::optional<uint64_t> stopped;
    if (c.reason() == "shutdown") {
      running_.erase(c.instance());
      if (running_.empty()) {
        stopped_at_ = c.checkpoint_id();
        stopped_by_ = c.instance();
      }
      return stopped;
    }
    if (running_.empty() && stopped_at_) stopped = stopped_at_;
    running_.insert(c.instance());
    stopped_at_.reset();
    return stopped;
  }
  const std::string& stopped_by() const { return stopped_by_; }
  // Whether `c` would start an instance (or end an interval in which none ran): the only
  // checkpoints that can hide entries from the stopped check.
  bool Starts(const cit::v1::Checkpoint& c) const {
    return c.reason() != "shutdown" && (running_.count(c.instance()) == 0 || stopped_at_);
  }

 private:
  std::set<std::string> running_;
  std::optional<uint64_t> stopped_at_;
  std::string stopped_by_;
};

absl::StatusOr<std::string> EntryName(sqlite::Database& db, const std::string& chain,
                                      uint64_t position) {
  if (chain.rfind("records/", 0) == 0) {
    absl::StatusOr<sqlite::Statement> q =
        db.Prepare("SELECT seq FROM records WHERE vehicle_id = ?1 AND chain_index = ?2");
    if (!q.ok()) return q.status();
    q->Bind(1, chain.substr(8)).Bind(2, position);
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (*row) return absl::StrCat("record seq ", q->ColumnInt64(0));
    return absl::StrCat("record at chain position ", position);
  }
  if (chain == kAlertChainName) {
    absl::StatusOr<sqlite::Statement> q =
        db.Prepare("SELECT event_id FROM alert_events WHERE chain_index = ?1");
    if (!q.ok()) return q.status();
    q->Bind(1, position);
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (*row) return absl::StrCat("alert event ", q->ColumnInt64(0));
  }
  if (chain == kIdentityChainName) {
    absl::StatusOr<std::vector<cit::v1::IdentityEvent>> e =
        ReadIdentityEvents(db, position - 1, 1, "");
    if (!e.ok()) return e.status();
    if (!e->empty() && e->front().index() == position) return IdentityEventName(e->front());
    return absl::StrCat("identity event ", position);
  }
  return absl::StrCat(chain == kPlanChainName ? "plan event " : "entry ", position);
}

void ToResult(const ChainReport& r, cit::v1::ChainResult* out) {
  out->set_chain(r.chain);
  out->set_intact(r.intact);
  out->set_entries_checked(r.entries_checked);
  out->set_length(r.length);
  out->set_first_position(r.first_position);
  if (!r.head.empty()) out->set_head(HexHash(r.head));
  out->set_checkpoint_id(r.checkpoint_id);
  if (!r.intact) {
    out->set_first_bad(r.first_bad);
    out->set_first_bad_index(r.first_bad_seq.value_or(r.first_bad_index));
    out->set_problem(r.problem);
  }
}

}  // namespace

// Each checkpoint body holds the SHA-256 of the previous body, so once the newest checkpoint this
// key signed verifies, every body linked to it by unbroken hashes (and consecutive ids) is as
// authentic as if its own signature had been checked: changing one would need a SHA-256 second
// preimage. Checking one Ed25519 signature instead of one per checkpoint keeps `audit verify`
// of a run from growing with years of checkpoints (issue 16 §3: 33,334 checkpoints cost ~5 s of
// signature checks on the 2-core machine). On PostgreSQL the chain is shared by every instance:
// the links prove the other instances' checkpoints before this key's newest too, whatever key
// signed them. Returns the range [first, last] so proven; first > last when none is (then each
// is checked on its own).
std::pair<size_t, size_t> AuditLedger::LinkedToTheNewest(
    const std::vector<cit::v1::SignedCheckpoint>& checkpoints,
    const std::map<std::string, CheckpointKey>& signers) const {
  size_t last = checkpoints.size();
  while (last > 0 && checkpoints[last - 1].checkpoint().key_id() != key_.KeyId()) --last;
  if (last == 0 || !key_.Verify(checkpoints[last - 1].body(), checkpoints[last - 1].signature())) {
    return {1, 0};
  }
  size_t first = last - 1;
  while (first > 0) {
    const cit::v1::Checkpoint& c = checkpoints[first].checkpoint();
    const cit::v1::SignedCheckpoint& prev = checkpoints[first - 1];
    // A body that names a key neither this server's nor stored beside the checkpoints (the
    // key was replaced, SQLite) proves nothing about this key's signatures: it is checked on
    // its own, and fails.
    const std::string& prev_key = prev.checkpoint().key_id();
    if (c.checkpoint_id() != prev.checkpoint().checkpoint_id() + 1 ||
        c.prev_body_sha256() != Sha256(prev.body()) ||
        (prev_key != key_.KeyId() && signers.count(prev_key) == 0)) {
      break;
    }
    --first;
  }
  return {first, last - 1};
}

absl::StatusOr<std::unique_ptr<AuditLedger>> AuditLedger::OpenPostgres(
    CheckpointKey public_key, const std::vector<CheckpointKey>& instance_keys,
    std::shared_ptr<PostgresChainMirror> store_chains, std::shared_ptr<PostgresAuditLog> logs) {
  if (store_chains == nullptr || logs == nullptr) {
    return absl::InvalidArgumentError("audit ledger on PostgreSQL: no database");
  }
  std::unique_ptr<AuditLedger> out(
      new AuditLedger(nullptr, std::move(public_key), std::move(store_chains)));
  out->logs_ = std::move(logs);
  for (const CheckpointKey& k : instance_keys) {
    if (k.KeyId() != out->key_.KeyId()) out->instance_keys_.emplace(k.KeyId(), k);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<AuditLedger>> AuditLedger::Open(const std::filesystem::path& path,
                                                               CheckpointKey public_key) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path);
  if (!db.ok()) return db.status();
  if (absl::Status s = CheckpointLog::Migrate(**db); !s.ok()) return s;
  if (absl::Status s = MigrateIdentityLog(**db); !s.ok()) return s;
  return std::unique_ptr<AuditLedger>(
      new AuditLedger(std::move(*db), std::move(public_key), nullptr));
}

absl::StatusOr<std::string> AuditLedger::LoggedRunVehicle(const std::string& run_id) {
  if (store_chains_) return store_chains_->LoggedRunVehicle(run_id);
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::vector<cit::v1::PlanEvent>> history = ReadPlanHistory(*db_, run_id);
  if (!history.ok()) return history.status();
  if (history->empty()) return absl::NotFoundError(absl::StrCat("run ", run_id));
  return history->back().run().plan().vehicle_id();
}

absl::StatusOr<cit::v1::SignedCheckpoint> AuditLedger::GetCheckpoint(uint64_t id) {
  if (logs_ != nullptr) return logs_->ReadCheckpoint(id);
  std::lock_guard<std::mutex> lock(mu_);
  return ReadCheckpoint(*db_, id);
}

absl::StatusOr<cit::v1::ListCheckpointsResponse> AuditLedger::ListCheckpoints(uint64_t after_id,
                                                                              uint32_t limit) {
  if (limit > kMaxListCheckpoints) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: at most ", kMaxListCheckpoints, " (0 = 100)"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> list =
      logs_ != nullptr ? logs_->ReadCheckpoints(after_id, limit == 0 ? 100 : limit)
                       : ReadCheckpoints(*db_, after_id, limit == 0 ? 100 : limit);
  if (!list.ok()) return list.status();
  cit::v1::ListCheckpointsResponse out;
  for (cit::v1::SignedCheckpoint& c : *list) *out.add_checkpoints() = std::move(c);
  out.set_public_key_pem(key_.PublicPem());
  return out;
}

absl::StatusOr<cit::v1::ListIdentityEventsResponse> AuditLedger::ListIdentityEvents(
    const cit::v1::ListIdentityEventsRequest& req) {
  if (req.limit() > kMaxListIdentityEvents) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: at most ", kMaxListIdentityEvents, " (0 = 1000)"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  const size_t limit = req.limit() == 0 ? 1000 : req.limit();
  absl::StatusOr<std::vector<cit::v1::IdentityEvent>> events =
      logs_ != nullptr ? logs_->ReadIdentityEvents(req.after_index(), limit, req.name())
                       : ReadIdentityEvents(*db_, req.after_index(), limit, req.name());
  if (!events.ok()) return events.status();
  cit::v1::ListIdentityEventsResponse out;
  for (cit::v1::IdentityEvent& e : *events) *out.add_events() = std::move(e);
  return out;
}

absl::StatusOr<cit::v1::VerifyChainResponse> AuditLedger::VerifyIdentities(
    const cit::v1::SignedCheckpoint* outside) {
  std::lock_guard<std::mutex> lock(mu_);
  if (store_chains_ != nullptr) {
    absl::StatusOr<cit::v1::VerifyChainResponse> out;
    absl::Status copied = VerifyFromCopy("", "", nullptr, [&](sqlite::Database& db) {
      out = VerifyLocked(db, "", "", outside, /*identities_only=*/true);
      return absl::OkStatus();
    });
    if (!copied.ok()) return copied;
    return out;
  }
  sqlite::Transaction snapshot(*db_, sqlite::Transaction::Mode::kDeferred);
  if (!snapshot.status().ok()) return snapshot.status();
  return VerifyLocked(*db_, "", "", outside, /*identities_only=*/true);
}

absl::StatusOr<cit::v1::VerifyChainResponse> AuditLedger::Verify(
    const std::string& vehicle_id, const std::string& run_id,
    const cit::v1::SignedCheckpoint* outside, const RecordTimeWindow* run_window) {
  std::lock_guard<std::mutex> lock(mu_);
  if (store_chains_ == nullptr) {
    // One read transaction: every chain and checkpoint from the same snapshot.
    sqlite::Transaction snapshot(*db_, sqlite::Transaction::Mode::kDeferred);
    if (!snapshot.status().ok()) return snapshot.status();
    return VerifyLocked(*db_, vehicle_id, run_id, outside, /*identities_only=*/false, run_window);
  }
  absl::StatusOr<cit::v1::VerifyChainResponse> out;
  absl::Status copied = VerifyFromCopy(vehicle_id, run_id, run_window, [&](sqlite::Database& db) {
    out = VerifyLocked(db, vehicle_id, run_id, outside, /*identities_only=*/false, run_window);
    return absl::OkStatus();
  });
  if (!copied.ok()) return copied;
  return out;
}

absl::Status AuditLedger::VerifyFromCopy(
    const std::string& vehicle_id, const std::string& run_id, const RecordTimeWindow* run_window,
    const std::function<absl::Status(sqlite::Database&)>& verify) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> copy = sqlite::Database::Open(":memory:");
  if (!copy.ok()) return copy.status();
  if (absl::Status s = CreateMirrorTables(**copy); !s.ok()) return s;
  sqlite::Transaction snapshot(**copy, sqlite::Transaction::Mode::kDeferred);
  if (!snapshot.status().ok()) return snapshot.status();
  if (absl::Status s = store_chains_->CopyInto(**copy, vehicle_id, run_id, run_window); !s.ok()) {
    return s;
  }
  return verify(**copy);
}

absl::StatusOr<cit::v1::VerifyChainResponse> AuditLedger::VerifyLocked(
    sqlite::Database& db, const std::string& vehicle_id, const std::string& run_id,
    const cit::v1::SignedCheckpoint* outside, bool identities_only,
    const RecordTimeWindow* run_window) {
  absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> checkpoints =
      ReadCheckpoints(db, 0, SIZE_MAX);
  if (!checkpoints.ok()) return checkpoints.status();

  // The checkpoint log itself: signatures, ids without holes, each body linked to the previous.
  ChainWalk cp_walk("checkpoints", {});
  std::map<std::string, std::vector<ChainAnchor>> anchors;
  std::map<std::string, StoppedGap> gaps;
  std::map<std::string, uint64_t> state;  // chain length as of the checkpoint being read
  bool all_signed = true;
  const std::map<std::string, CheckpointKey>* signers = &instance_keys_;
  const auto [linked_first, linked_last] = LinkedToTheNewest(*checkpoints, *signers);
  RunningInstances running;
  std::string prev_body;
  uint64_t prev_id = 0;
  size_t index = 0;
  auto add_anchors = [&](const cit::v1::Checkpoint& c) {
    for (const cit::v1::ChainHead& h : c.heads()) {
      anchors[h.chain()].push_back(
          ChainAnchor{c.checkpoint_id(), h.length(), h.head(), h.last_seq(), h.contiguous_seq()});
    }
  };
  for (const cit::v1::SignedCheckpoint& sc : *checkpoints) {
    const cit::v1::Checkpoint& c = sc.checkpoint();
    const uint64_t id = c.checkpoint_id();
    const std::string name = absl::StrCat("checkpoint #", id, " (", c.reason(), ")");
    // Bodies linked to the newest one this key signed are proven by it; others by their own
    // signature, with this server's key or another instance's ([audit] instance_keys). A
    // checkpoint that starts an instance is always checked on its own: a writer links to the
    // newest row without checking its signature, so a row forged while no instance ran (a
    // "startup" claiming an instance is running) would otherwise be proven by the next genuine
    // checkpoint and hide what was stored meanwhile. One signature per start-up.
    const bool linked = index >= linked_first && index <= linked_last && !running.Starts(c);
    ++index;
    if (!linked) {
      auto signer = signers->find(c.key_id());
      const CheckpointKey* key = c.key_id() == key_.KeyId() ? &key_
                                 : signer != signers->end() ? &signer->second
                                                            : nullptr;
      if (key == nullptr || !key->Verify(sc.body(), sc.signature())) {
        all_signed = false;
        cp_walk.Fail(
            id, name,
            key == &key_ || (key == nullptr && c.instance().empty())
                ? absl::StrCat("signature does not verify with the server's key ", key_.KeyId(),
                               " (signed by key ", c.key_id(), ")")
            : key == nullptr
                ? absl::StrCat("signed by instance \"", c.instance(), "\" with key ", c.key_id(),
                               ", which is neither this server's key nor one of its "
                               "[audit] instance_keys")
                : absl::StrCat("signature does not verify with the key of instance \"",
                               c.instance(), "\" (", c.key_id(), ")"));
        continue;  // not evidence of anything
      }
    }
    if (id != prev_id + 1) {
      cp_walk.Fail(prev_id + 1, absl::StrCat("checkpoint #", prev_id + 1), "deleted from the log");
    } else if (c.prev_body_sha256() != (prev_id == 0 ? std::string(32, '\0') : Sha256(prev_body))) {
      cp_walk.Fail(id, name, "does not link to the previous checkpoint's body");
    }
    add_anchors(c);
    const std::optional<uint64_t> stopped_at = running.Read(c);
    for (const cit::v1::ChainHead& h : c.heads()) {
      const uint64_t before = state.count(h.chain()) != 0 ? state[h.chain()] : 0;
      if (stopped_at && h.length() > before && gaps.count(h.chain()) == 0) {
        gaps[h.chain()] =
            StoppedGap{before + 1, h.length(), *stopped_at, id, running.stopped_by(), c.instance()};
      }
      state[h.chain()] = std::max(before, h.length());
    }
    prev_body = sc.body();
    prev_id = id;
    cp_walk.Step(id, "");
  }
  uint64_t newest = prev_id;
  if (outside != nullptr && !outside->body().empty()) {
    cit::v1::Checkpoint c;
    if (!c.ParseFromString(outside->body())) {
      return absl::InvalidArgumentError("checkpoint.body: does not parse");
    }
    const std::string name =
        absl::StrCat("checkpoint #", c.checkpoint_id(), " kept by the auditor");
    if (!key_.Verify(outside->body(), outside->signature())) {
      all_signed = false;
      cp_walk.Fail(0, name, "its signature does not verify with the server's key");
    } else {
      add_anchors(c);
      auto it = std::find_if(checkpoints->begin(), checkpoints->end(), [&](const auto& sc) {
        return sc.checkpoint().checkpoint_id() == c.checkpoint_id();
      });
      if (it == checkpoints->end()) {
        cp_walk.Fail(c.checkpoint_id(), name,
                     "missing from the server's checkpoint log (checkpoints deleted)");
      } else if (it->body() != outside->body()) {
        cp_walk.Fail(c.checkpoint_id(), name, "differs from the log's checkpoint of that id");
      }
      newest = std::max(newest, c.checkpoint_id());
    }
  }
  std::vector<ChainReport> reports;
  reports.push_back(cp_walk.Finish(
      prev_id, [](uint64_t, uint64_t, const ChainAnchor&) { return std::string(); }));

  const std::string records_chain =
      identities_only ? std::string() : absl::StrCat("records/", vehicle_id);
  ChainReport records;
  if (!identities_only) {
    absl::StatusOr<ChainReport> r =
        run_window != nullptr
            ? VerifyRecordChainForWindow(db, vehicle_id, anchors[records_chain], *run_window)
            : VerifyRecordChain(db, vehicle_id, anchors[records_chain]);
    if (!r.ok()) return r.status();
    if (run_id.empty() && r->length == 0 && r->intact && anchors[records_chain].empty()) {
      return absl::NotFoundError(absl::StrCat("no records stored for vehicle ", vehicle_id,
                                              ", and no checkpoint lists any"));
    }
    records = *std::move(r);
    reports.push_back(records);
  }
  if (!run_id.empty()) {
    absl::StatusOr<ChainReport> plans = VerifyPlanChain(db, anchors[kPlanChainName]);
    if (!plans.ok()) return plans.status();
    reports.push_back(*std::move(plans));
    absl::StatusOr<ChainReport> run_rows = VerifyRunRows(db, run_id);
    if (!run_rows.ok()) return run_rows.status();
    reports.push_back(*std::move(run_rows));
    absl::StatusOr<ChainReport> alerts = VerifyAlertChain(db, anchors[kAlertChainName]);
    if (!alerts.ok()) return alerts.status();
    reports.push_back(*std::move(alerts));
    absl::StatusOr<ChainReport> alert_rows = VerifyAlertRows(db, run_id);
    if (!alert_rows.ok()) return alert_rows.status();
    reports.push_back(*std::move(alert_rows));
  }
  // Who could do what: part of every verification (docs/protocol.md, "Identity log").
  absl::StatusOr<ChainReport> identities = VerifyIdentityChain(db, anchors[kIdentityChainName]);
  if (!identities.ok()) return identities.status();
  reports.push_back(*std::move(identities));
  for (ChainReport& r : reports) {
    auto gap = gaps.find(r.chain);
    if (!r.intact || gap == gaps.end() || gap->second.first > r.length) continue;
    absl::StatusOr<std::string> name = EntryName(db, r.chain, gap->second.first);
    if (!name.ok()) return name.status();
    r.intact = false;
    r.first_bad = *name;
    r.first_bad_index = gap->second.first;
    if (!identities_only && r.chain == records_chain && name->rfind("record seq ", 0) == 0) {
      r.first_bad_seq = std::stoull(name->substr(11));
    }
    const StoppedGap& g = gap->second;
    r.problem =
        g.shutdown_instance.empty() && g.startup_instance.empty()
            ? absl::StrCat("appeared while the server was stopped: after shutdown checkpoint #",
                           g.shutdown_id, " and before startup checkpoint #", g.startup_id,
                           " (chain positions ", g.first, "..", g.last, ")")
            : absl::StrCat(
                  "appeared while the server was stopped (no instance running): after "
                  "shutdown checkpoint #",
                  g.shutdown_id, " of instance \"", g.shutdown_instance,
                  "\", the last one running, and before checkpoint #", g.startup_id,
                  " of instance \"", g.startup_instance, "\" (chain positions ", g.first, "..",
                  g.last, ")");
  }

  cit::v1::VerifyChainResponse out;
  out.set_intact(true);
  out.set_vehicle_id(vehicle_id);
  out.set_records_checked(records.entries_checked);
  if (!identities_only && records.intact && !records.head.empty()) {
    out.set_chain_head(HexHash(records.head));
  }
  for (const ChainReport& r : reports) {
    ToResult(r, out.add_chains());
    if (!r.intact && out.intact()) {
      out.set_intact(false);
      out.set_problem(absl::StrCat(r.chain, ": ", r.first_bad, ": ", r.problem));
    }
  }
  if (!identities_only) {
    const ChainReport& rec = reports[1];
    if (!rec.intact) out.set_first_bad_seq(rec.first_bad_seq.value_or(rec.first_bad_index));
  }
  out.set_checkpoint_id(newest);
  out.set_checkpoints_signed(all_signed);
  out.set_checkpoint_key_id(key_.KeyId());
  return out;
}

}  // namespace cit::dispatch
