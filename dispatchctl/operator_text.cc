#include "dispatchctl/operator_text.h"

#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <ctime>

#include "absl/strings/ascii.h"

namespace cit::ctl {
namespace {

using google::protobuf::Timestamp;

bool IsDigit(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }

// The digit run starting at `i`, without its leading zeros (an empty view for all zeros).
std::string_view Digits(std::string_view s, std::size_t& i) {
  const std::size_t begin = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  std::string_view run = s.substr(begin, i - begin);
  while (!run.empty() && run.front() == '0') run.remove_prefix(1);
  return run;
}

bool IsSet(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

std::string Minutes(double seconds) {
  const long minutes = std::lround(std::abs(seconds) / 60.0);
  return std::to_string(minutes) + " min";
}

}  // namespace

bool NaturalLess(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (IsDigit(a[i]) && IsDigit(b[j])) {
      const std::string_view x = Digits(a, i);
      const std::string_view y = Digits(b, j);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  if (i < a.size() || j < b.size()) return j < b.size();  // a prefix of the other comes first
  return a < b;  // same numbers, different zeros: any fixed order
}

std::string WallClockText(const Timestamp& t, TimeZoneChoice zone) {
  if (!IsSet(t)) return "-";
  if (zone == TimeZoneChoice::kUtc) return google::protobuf::util::TimeUtil::ToString(t);
  const std::time_t seconds = static_cast<std::time_t>(t.seconds());
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) {
    return google::protobuf::util::TimeUtil::ToString(t);
  }
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &local) == 0) {
    return google::protobuf::util::TimeUtil::ToString(t);
  }
  return buf;
}

std::string EtaText(const cit::v1::VehicleState& v, const Timestamp& now) {
  if (v.next_stop_id().empty()) return "-";
  using google::protobuf::util::TimeUtil;
  const auto seconds_between = [](const Timestamp& from, const Timestamp& to) {
    return static_cast<double>(TimeUtil::DurationToMilliseconds(to - from)) / 1000.0;
  };
  if (v.next_stop_late()) {
    if (!v.has_next_stop_arrival_latest()) return "late";
    // Late by how much: the ETA past the window's close, or now when there is no ETA (or the
    // ETA has already passed).
    Timestamp reference = now;
    if (v.has_next_stop_eta() && v.next_stop_eta() > now) reference = v.next_stop_eta();
    const double late_s = seconds_between(v.next_stop_arrival_latest(), reference);
    return late_s < 30 ? "late" : Minutes(late_s) + " late";
  }
  if (!v.has_next_stop_eta()) return "-";
  const double in_s = seconds_between(now, v.next_stop_eta());
  if (in_s < 30) return "due now";
  return "in " + Minutes(in_s);
}

}  // namespace cit::ctl
