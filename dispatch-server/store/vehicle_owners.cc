#include "dispatch-server/store/vehicle_owners.h"

#include <pqxx/pqxx>

#include "dispatch-server/store/postgres_db.h"

namespace cit::dispatch {

absl::StatusOr<std::unique_ptr<VehicleOwnerReader>> VehicleOwnerReader::Open(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  return std::unique_ptr<VehicleOwnerReader>(new VehicleOwnerReader(*std::move(session)));
}

VehicleOwnerReader::VehicleOwnerReader(std::unique_ptr<pg::Session> session)
    : session_(std::move(session)) {}

VehicleOwnerReader::~VehicleOwnerReader() = default;

absl::StatusOr<std::vector<VehicleOwner>> VehicleOwnerReader::Read(
    std::chrono::milliseconds expiry) {
  return session_->Run(
      "reading vehicle owners",
      [expiry](pqxx::connection& c) -> absl::StatusOr<std::vector<VehicleOwner>> {
        pqxx::read_transaction t(c);
        // now() and beat_at both from the database's clock: no host clock skew.
        const pqxx::result rows = t.exec_params(
            "SELECT v.vehicle_id, v.owner, v.lease_token, "
            "COALESCE(h.beat_at >= now() - make_interval(secs => $1), false) "
            "FROM vehicle_seq v LEFT JOIN instance_heartbeat h ON h.instance = v.owner "
            "WHERE v.owner <> '' ORDER BY v.vehicle_id",
            static_cast<double>(expiry.count()) / 1000.0);
        std::vector<VehicleOwner> out;
        out.reserve(rows.size());
        for (const pqxx::row& row : rows) {
          out.push_back(VehicleOwner{row[0].as<std::string>(), row[1].as<std::string>(),
                                     row[2].as<uint64_t>(), row[3].as<bool>()});
        }
        return out;
      });
}

}  // namespace cit::dispatch

namespace cit::dispatch {

absl::Status VehicleOwnerReader::Beat(const std::string& instance) {
  return session_->Run("stamping this instance's heartbeat",
                       [&](pqxx::connection& c) -> absl::Status {
                         pqxx::work w(c);
                         w.exec_params(
                             "INSERT INTO instance_heartbeat (instance, beat_at) VALUES ($1, "
                             "now()) ON CONFLICT (instance) DO UPDATE SET beat_at = now()",
                             instance);
                         w.commit();
                         return absl::OkStatus();
                       });
}

}  // namespace cit::dispatch
