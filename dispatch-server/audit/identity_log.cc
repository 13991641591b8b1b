#include "dispatch-server/audit/identity_log.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "dispatch-server/audit/postgres_audit_log.h"
#include "dispatch-server/store/identity_chain.h"
#include "geo/input_limits.h"

namespace cit::dispatch {
namespace {

// What the identity log names as the actor: the server learned the change from the file.
constexpr char kServerActor[] = "dispatch-server";
constexpr size_t kMaxTokenFileBytes = 1u << 20;

cit::v1::IdentityChange ChangeToProto(IdentityDiff::Kind kind) {
  switch (kind) {
    case IdentityDiff::Kind::kAdded:
      return cit::v1::IDENTITY_CHANGE_ADDED;
    case IdentityDiff::Kind::kRemoved:
      return cit::v1::IDENTITY_CHANGE_REMOVED;
    case IdentityDiff::Kind::kRoleChanged:
      return cit::v1::IDENTITY_CHANGE_ROLE_CHANGED;
    case IdentityDiff::Kind::kTokenRotated:
      return cit::v1::IDENTITY_CHANGE_TOKEN_ROTATED;
  }
  return cit::v1::IDENTITY_CHANGE_UNSPECIFIED;
}

cit::v1::IdentityEvent EventFor(const IdentityDiff& d, const LoadedTokenFile& file, SysTime now) {
  cit::v1::IdentityEvent e;
  *e.mutable_time() = ToProto(now);
  e.set_change(ChangeToProto(d.kind));
  e.set_name(d.name);
  e.set_role(d.role);
  e.set_previous_role(d.previous_role);
  e.set_token_fingerprint(d.fingerprint);
  e.set_previous_token_fingerprint(d.previous_fingerprint);
  e.set_actor(kServerActor);
  e.set_token_file(file.path);
  e.set_token_file_sha256(file.sha256);
  return e;
}

void LogChange(const cit::v1::IdentityEvent& e) {
  spdlog::info(
      "event=identity_change index={} change={} name={} role={} previous_role={} "
      "token_fingerprint={} previous_token_fingerprint={} token_file=\"{}\" "
      "token_file_sha256={}",
      e.index(), cit::v1::IdentityChange_Name(e.change()), e.name(), e.role(),
      e.previous_role().empty() ? "-" : e.previous_role(), e.token_fingerprint(),
      e.previous_token_fingerprint().empty() ? "-" : e.previous_token_fingerprint(), e.token_file(),
      e.token_file_sha256());
}

}  // namespace

absl::StatusOr<LoadedTokenFile> LoadTokenFileForLog(const std::filesystem::path& path) {
  LoadedTokenFile out;
  std::string text;
  if (!path.empty()) {
    absl::StatusOr<std::string> read = geo::ReadFileBounded(path, kMaxTokenFileBytes);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat("token file: ", read.status().message()));
    }
    text = *std::move(read);
    absl::StatusOr<TokenFile> parsed = TokenFile::Parse(text, path.string());
    if (!parsed.ok()) return parsed.status();
    out.tokens = *std::move(parsed);
    // The absolute path: a relative one says nothing once the working directory is forgotten.
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    out.path = (ec ? path : absolute.lexically_normal()).string();
  }
  out.sha256 = TokenHashHex(text);  // SHA-256 of the file's bytes
  return out;
}

std::map<std::string, RecordedIdentity> ReplayIdentities(
    const std::vector<cit::v1::IdentityEvent>& events) {
  std::map<std::string, RecordedIdentity> state;
  for (const cit::v1::IdentityEvent& e : events) {
    if (e.change() == cit::v1::IDENTITY_CHANGE_REMOVED) {
      state.erase(e.name());
    } else {
      state[e.name()] = RecordedIdentity{e.role(), e.token_fingerprint()};
    }
  }
  return state;
}

absl::StatusOr<std::unique_ptr<IdentityLog>> IdentityLog::Open(const std::filesystem::path& path) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path);
  if (!db.ok()) return db.status();
  if (absl::Status s = MigrateIdentityLog(**db); !s.ok()) return s;
  return std::unique_ptr<IdentityLog>(new IdentityLog(*std::move(db)));
}

absl::StatusOr<std::unique_ptr<IdentityLog>> IdentityLog::OpenPostgres(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<PostgresAuditLog>> log = PostgresAuditLog::Open(conninfo);
  if (!log.ok()) return log.status();
  std::unique_ptr<IdentityLog> out(new IdentityLog(nullptr));
  out->pg_ = *std::move(log);
  return out;
}

absl::StatusOr<std::vector<cit::v1::IdentityEvent>> IdentityLog::RecordInPostgres(
    const LoadedTokenFile& file, SysTime now, const AfterEach& after_each) {
  std::vector<cit::v1::IdentityEvent> appended;
  // One entry per transaction, each chosen from the log as it is under the writer lock; the
  // file has at most kMaxTokenFileBytes, so fewer entries than that can differ from it.
  while (appended.size() < kMaxTokenFileBytes) {
    absl::StatusOr<std::optional<cit::v1::IdentityEvent>> e =
        pg_->AppendIdentityChange([&](const std::vector<cit::v1::IdentityEvent>& history)
                                      -> absl::StatusOr<std::optional<cit::v1::IdentityEvent>> {
          const std::vector<IdentityDiff> diffs =
              DiffIdentities(ReplayIdentities(history), file.tokens.entries());
          if (diffs.empty()) return std::nullopt;
          if (diffs.front().fingerprint.empty()) {
            return absl::InternalError(
                "token fingerprint: SHA-256 failed in OpenSSL; nothing recorded");
          }
          return EventFor(diffs.front(), file, now);
        });
    if (!e.ok()) {
      return absl::Status(e.status().code(),
                          absl::StrCat("identity log: ", e.status().message(),
                                       "; this token/role change was not recorded"));
    }
    if (!e->has_value()) break;
    LogChange(**e);
    if (after_each) {
      if (absl::Status s = after_each(**e); !s.ok()) return s;
    }
    appended.push_back(**std::move(e));
  }
  return appended;
}

absl::StatusOr<std::vector<cit::v1::IdentityEvent>> IdentityLog::Record(
    const LoadedTokenFile& file, SysTime now, const AfterEach& after_each) {
  if (pg_ != nullptr) return RecordInPostgres(file, now, after_each);
  absl::StatusOr<std::vector<cit::v1::IdentityEvent>> history =
      ReadIdentityEvents(*db_, 0, SIZE_MAX, "");
  if (!history.ok()) return history.status();
  const std::vector<IdentityDiff> diffs =
      DiffIdentities(ReplayIdentities(*history), file.tokens.entries());
  std::vector<cit::v1::IdentityEvent> appended;
  for (const IdentityDiff& d : diffs) {
    if (d.fingerprint.empty()) {
      return absl::InternalError("token fingerprint: SHA-256 failed in OpenSSL; nothing recorded");
    }
    cit::v1::IdentityEvent e = EventFor(d, file, now);
    {
      // One transaction per entry: each is committed (and signed by `after_each`) on its own.
      sqlite::Transaction tx(*db_);
      if (!tx.status().ok()) return tx.status();
      absl::StatusOr<IdentityChainHead> head = LoadIdentityChainHead(*db_);
      if (!head.ok()) return head.status();
      if (absl::Status s = AppendIdentityEvent(*db_, *head, e); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("identity log: ", s.message(),
                                                   "; this token/role change was not recorded"));
      }
      if (absl::Status s = tx.Commit(); !s.ok()) return s;
      e.set_index(head->length);
    }
    LogChange(e);
    if (after_each) {
      if (absl::Status s = after_each(e); !s.ok()) return s;
    }
    appended.push_back(std::move(e));
  }
  return appended;
}

}  // namespace cit::dispatch
