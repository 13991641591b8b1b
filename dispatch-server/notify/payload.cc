#include "dispatch-server/notify/payload.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

nlohmann::json ToJson(const google::protobuf::Message& m) {
  std::string text;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &text, o).ok()) return nullptr;
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::string Short(const std::string& name, std::string_view prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

}  // namespace

std::string IdempotencyKey(uint64_t alert_id, uint32_t step, const std::string& target) {
  return absl::StrCat("citwatch-alert-", alert_id, "-step-", step, "-", target);
}

std::string BuildPayload(const cit::v1::AlertEvent& event, uint32_t step, const std::string& target,
                         const std::string& key) {
  nlohmann::json j;
  j["idempotency_key"] = key;
  j["target"] = target;
  j["step"] = step;
  j["summary"] = Summary(event.alert());
  j["comment"] = event.comment();
  j["alert"] = ToJson(event.alert());
  j["event"] = ToJson(event);
  j["event"].erase("alert");  // already above
  return j.dump();
}

std::string Summary(const cit::v1::Alert& alert) {
  return absl::StrCat(Short(cit::v1::Severity_Name(alert.severity()), "SEVERITY_"), " ",
                      Short(cit::v1::AlertKind_Name(alert.kind()), "ALERT_KIND_"), " ",
                      alert.vehicle_id(), " (alert ", alert.alert_id(), ")");
}

}  // namespace cit::dispatch
