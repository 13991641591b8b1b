// The in-process dispatch-server of a test: both gRPC ports on free loopback ports, plaintext
// (insecure_dev, the vehicle id from Hello), no metrics port, on the test's backend database
// (SQLite file with NORMAL durability, or its PostgreSQL database).
//
//   test::BackendDb db("sqlite");
//   DispatchServerOptions o = test::LoopbackServerOptions(db);
//   RunMonitoringOptions rmo = test::LoopbackMonitoringOptions(db);
#ifndef CIT_TESTS_DISPATCH_LOOPBACK_SERVER_OPTIONS_H_
#define CIT_TESTS_DISPATCH_LOOPBACK_SERVER_OPTIONS_H_

#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/run_monitoring.h"
#include "tests/dispatch/store_backends.h"

namespace cit::dispatch::test {

inline DispatchServerOptions LoopbackServerOptions(const BackendDb& db) {
  DispatchServerOptions o;
  o.telemetry_address = "127.0.0.1:0";
  o.operator_address = "127.0.0.1:0";
  o.metrics_address = "";
  o.insecure_dev = true;
  o.ingest.identity_from_hello = true;
  o.database_path = db.path();
  o.durability = sqlite::Durability::kNormal;
  if (db.pg()) {
    o.store_backend = DispatchServerOptions::StoreBackend::kPostgresql;
    o.postgres_connection = db.conninfo();
  }
  return o;
}

inline RunMonitoringOptions LoopbackMonitoringOptions(const BackendDb& db) {
  RunMonitoringOptions rmo;
  rmo.database_path = db.path();
  if (db.pg()) rmo.postgres_connection = db.conninfo();
  return rmo;
}

}  // namespace cit::dispatch::test

#endif  // CIT_TESTS_DISPATCH_LOOPBACK_SERVER_OPTIONS_H_
