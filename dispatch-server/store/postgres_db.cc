#include "dispatch-server/store/postgres_db.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace cit::dispatch::pg {

std::string DescribeConnection(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err != nullptr ? err : "out of memory";
    PQfreemem(err);
    return absl::StrCat("(unparsable connection string: ", msg, ")");
  }
  std::string host = "(default socket)", port = "5432", db = "(default)", user = "(default)";
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    std::string_view k = o->keyword;
    if (k == "host" || k == "hostaddr") host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") db = o->val;
    if (k == "user") user = o->val;
  }
  PQconninfoFree(opts);
  return fmt::format("host {} port {} database {} user {}", host, port, db, user);
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& conninfo) {
  try {
    auto c = std::make_unique<pqxx::connection>(conninfo);
    pqxx::nontransaction n(*c);
    n.exec("SET synchronous_commit = on");
    return c;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return absl::UnavailableError(fmt::format(
        "cannot connect to PostgreSQL at {}: {} (check that the server runs and listens there, "
        "[store] connection, pg_hba.conf and the role's password)",
        DescribeConnection(conninfo), msg));
  }
}

absl::Status FromException(const std::exception& e, std::string_view what) {
  std::string text = fmt::format("{}: {}", what, e.what());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return absl::AlreadyExistsError(text);
  }
  if (dynamic_cast<const pqxx::insufficient_privilege*>(&e) != nullptr) {
    return absl::PermissionDeniedError(text);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(text);
  }
  if (dynamic_cast<const pqxx::insufficient_resources*>(&e) != nullptr) {
    return absl::ResourceExhaustedError(text);
  }
  return absl::InternalError(text);
}

namespace {

// Version recorded for `component`, -1 when schema_migrations does not exist yet.
int RecordedVersion(pqxx::transaction_base& t, std::string_view component) {
  pqxx::row exists = t.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>()) return -1;
  pqxx::row v =
      t.exec_params1("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1",
                     std::string(component));
  return v[0].as<int>();
}

}  // namespace

absl::Status ApplyMigrations(pqxx::connection& c, std::string_view component,
                             std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InvalidArgumentError(
          fmt::format("migrations of {} must be numbered 1, 2, ...; entry {} has version {}",
                      component, i, migrations[i].version));
    }
  }
  const int latest = static_cast<int>(migrations.size());
  auto too_new = [&](int v) {
    return absl::FailedPreconditionError(
        fmt::format("database has {} schema version {} but this binary knows only up to {}",
                    component, v, latest));
  };
  try {
    {
      pqxx::read_transaction r(c);
      const int v = RecordedVersion(r, component);
      if (v > latest) return too_new(v);
      if (v == latest) return absl::OkStatus();
    }
    pqxx::work w(c);
    // Serialises concurrent migrators (two instances starting at once) on this database.
    w.exec("SELECT pg_advisory_xact_lock(hashtext('citwatch schema_migrations'))");
    w.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "  component text NOT NULL, version integer NOT NULL, description text NOT NULL,"
        "  applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))");
    const int current = RecordedVersion(w, component);
    if (current > latest) return too_new(current);
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      try {
        w.exec(std::string(m.sql));
      } catch (const pqxx::insufficient_privilege& e) {
        return absl::FailedPreconditionError(fmt::format(
            "{} schema is at version {}, this binary needs {}, and this role may not migrate "
            "it ({}): start once with the schema owner's role (docs/operations.md)",
            component, current, latest, e.what()));
      }
      w.exec_params(
          "INSERT INTO schema_migrations (component, version, description) VALUES ($1, $2, $3)",
          std::string(component), m.version, std::string(m.description));
    }
    w.commit();
    return absl::OkStatus();
  } catch (const pqxx::insufficient_privilege& e) {
    return absl::FailedPreconditionError(fmt::format(
        "{} schema needs migrating to version {} and this role may not ({}): start once with "
        "the schema owner's role (docs/operations.md)",
        component, latest, e.what()));
  } catch (const std::exception& e) {
    return FromException(e, fmt::format("migrating {}", component));
  }
}

std::string Bytes(const pqxx::field& f) { return pqxx::binarystring(f).str(); }

std::string AppendOnlyTriggersSql(std::string_view table) {
  return fmt::format(
      "CREATE TRIGGER {0}_append_only BEFORE UPDATE OR DELETE ON {0} FOR EACH ROW EXECUTE "
      "FUNCTION citwatch_append_only();\n"
      "CREATE TRIGGER {0}_no_truncate BEFORE TRUNCATE ON {0} FOR EACH STATEMENT EXECUTE "
      "FUNCTION citwatch_append_only();\n",
      table);
}

absl::StatusOr<std::unique_ptr<Session>> Session::Open(std::string conninfo) {
  std::unique_ptr<Session> s(new Session(std::move(conninfo)));
  std::lock_guard<std::mutex> lock(s->mu_);
  if (absl::Status st = s->EnsureOpen(); !st.ok()) return st;
  return s;
}

absl::Status Session::EnsureOpen() {
  if (conn_ && conn_->is_open()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<pqxx::connection>> c = Connect(conninfo_);
  if (!c.ok()) return c.status();
  conn_ = *std::move(c);
  return absl::OkStatus();
}

}  // namespace cit::dispatch::pg
