#include "dispatchctl/plan_keys.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::ctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using nlohmann::json;

// Edit distance, to suggest the key that was meant (keys are short: a plain table is enough).
std::size_t Distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

absl::Status Unknown(const std::string& path, const std::string& key, const Descriptor& d) {
  std::vector<std::string> names;
  std::string best;
  std::size_t best_distance = 3;  // suggest only close matches
  for (int i = 0; i < d.field_count(); ++i) {
    const std::string& name = d.field(i)->name();
    names.push_back(name);
    if (const std::size_t dist = Distance(key, name); dist < best_distance) {
      best_distance = dist;
      best = name;
    }
  }
  std::string msg = absl::StrCat(path.empty() ? "" : path + ".", key, ": unknown key");
  if (!best.empty()) {
    absl::StrAppend(&msg, " (did you mean ", best, "?)");
  } else {
    absl::StrAppend(&msg, " (known: ", absl::StrJoin(names, ", "), ")");
  }
  return absl::InvalidArgumentError(msg);
}

absl::Status CheckObject(const json& obj, const Descriptor& d, const std::string& path);

absl::Status CheckValue(const json& v, const FieldDescriptor& f, const std::string& path) {
  if (f.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return absl::OkStatus();
  // Well-known types (Timestamp) have their own JSON forms; the proto parser checks them.
  if (f.message_type()->file()->package() == "google.protobuf") return absl::OkStatus();
  if (f.is_repeated() && v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (absl::Status s = CheckObject(v[i], *f.message_type(), absl::StrCat(path, "[", i, "]"));
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }
  return CheckObject(v, *f.message_type(), path);
}

absl::Status CheckObject(const json& obj, const Descriptor& d, const std::string& path) {
  if (!obj.is_object()) return absl::OkStatus();  // wrong types: the proto parser names them
  for (const auto& [key, value] : obj.items()) {
    const FieldDescriptor* f = d.FindFieldByName(key);
    if (f == nullptr) f = d.FindFieldByCamelcaseName(key);
    if (f == nullptr) return Unknown(path, key, d);
    if (absl::Status s = CheckValue(value, *f, path.empty() ? key : path + "." + key); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPlanKeys(const json& plan) {
  return CheckObject(plan, *cit::v1::RunPlan::descriptor(), "");
}

}  // namespace cit::ctl
