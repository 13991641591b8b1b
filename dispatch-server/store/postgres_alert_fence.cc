#include "dispatch-server/store/postgres_alert_fence.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {

std::vector<AlertStore::FencedEvent> FencedEvents(pqxx::work& w, const std::string& instance,
                                                  std::span<const cit::v1::AlertEvent> events) {
  std::vector<AlertStore::FencedEvent> fenced;
  if (instance.empty()) return fenced;
  std::set<std::string> vehicles;
  for (const cit::v1::AlertEvent& e : events) {
    if (IsFenceable(e)) vehicles.insert(e.alert().vehicle_id());
  }
  if (vehicles.empty()) return fenced;
  std::string in;
  for (const std::string& v : vehicles) absl::StrAppend(&in, in.empty() ? "" : ",", w.quote(v));
  // A plain read: a takeover committing after it finds this group made while we owned the
  // vehicle, which is what it was.
  std::map<std::string, std::pair<std::string, uint64_t>, std::less<>> elsewhere;
  for (const pqxx::row& row :
       w.exec("SELECT vehicle_id, owner, lease_token FROM vehicle_seq WHERE vehicle_id IN (" + in +
              ") AND owner <> '' AND owner <> " + w.quote(instance))) {
    elsewhere.emplace(row[0].as<std::string>(),
                      std::make_pair(row[1].as<std::string>(), row[2].as<uint64_t>()));
  }
  if (elsewhere.empty()) return fenced;
  for (const cit::v1::AlertEvent& e : events) {
    if (!IsFenceable(e)) continue;
    auto it = elsewhere.find(e.alert().vehicle_id());
    if (it == elsewhere.end()) continue;
    fenced.push_back({.event_id = e.event_id(),
                      .vehicle_id = it->first,
                      .owner = it->second.first,
                      .fencing_token = it->second.second});
  }
  return fenced;
}

}  // namespace cit::dispatch
