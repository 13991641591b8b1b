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

absl::StatusOr<std::vector<VehicleOwner>> VehicleOwnerReader::Read() {
  return session_->Run(
      "reading vehicle owners",
      [](pqxx::connection& c) -> absl::StatusOr<std::vector<VehicleOwner>> {
        pqxx::read_transaction t(c);
        const pqxx::result rows = t.exec(
            "SELECT vehicle_id, owner, lease_token FROM vehicle_seq WHERE owner <> '' "
            "ORDER BY vehicle_id");
        std::vector<VehicleOwner> out;
        out.reserve(rows.size());
        for (const pqxx::row& row : rows) {
          out.push_back(VehicleOwner{row[0].as<std::string>(), row[1].as<std::string>(),
                                     row[2].as<uint64_t>()});
        }
        return out;
      });
}

}  // namespace cit::dispatch
