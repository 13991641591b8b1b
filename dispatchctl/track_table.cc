#include "dispatchctl/track_table.h"

#include <fmt/format.h>

#include <cmath>
#include <string_view>

namespace cit::ctl {
namespace {

// "FIX_MODE_3D" -> "3D": enum names without their prefix.
std::string Suffix(const std::string& name, std::string_view prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string KindOf(const cit::v1::Record& r) {
  switch (r.payload_case()) {
    case cit::v1::Record::kFix:
      return "fixes";
    case cit::v1::Record::kDoor:
      return "door";
    case cit::v1::Record::kSeal:
      return "seal";
    case cit::v1::Record::kPanic:
      return "panic";
    case cit::v1::Record::kCrew:
      return "crew";
    case cit::v1::Record::kGnss:
      return "gnss";
    case cit::v1::Record::kHeartbeat:
      return "heartbeat";
    default:
      return "other";
  }
}

// 1234567 -> "1,234,567": counts a person reads at a glance.
std::string Grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(at, ",");
  return digits;
}

}  // namespace

std::string RecordWhat(const cit::v1::Record& r) {
  switch (r.payload_case()) {
    case cit::v1::Record::kFix:
      return "FIX " + Suffix(cit::v1::FixMode_Name(r.fix().mode()), "FIX_MODE_") +
             (r.fix().time_suspect() ? " TIME?" : "");
    case cit::v1::Record::kDoor:
      return fmt::format("DOOR {} {}", r.door().door(),
                         Suffix(cit::v1::DoorState_Name(r.door().state()), "DOOR_STATE_"));
    case cit::v1::Record::kSeal:
      return fmt::format("SEAL {} {}", r.seal().seal(),
                         Suffix(cit::v1::SealState_Name(r.seal().state()), "SEAL_STATE_"));
    case cit::v1::Record::kPanic:
      return "PANIC " + r.panic().source();
    case cit::v1::Record::kCrew:
      return fmt::format("CREW {} {}",
                         r.crew().action() == cit::v1::CREW_ACTION_CHECK_IN    ? "IN"
                         : r.crew().action() == cit::v1::CREW_ACTION_CHECK_OUT ? "OUT"
                                                                               : "?",
                         r.crew().badge_id());
    case cit::v1::Record::kGnss:
      return "GNSS " + Suffix(cit::v1::GnssState_Name(r.gnss().state()), "GNSS_STATE_");
    case cit::v1::Record::kHeartbeat:
      return "HEARTBEAT";
    default:
      return "UNKNOWN";
  }
}

std::string TrackTable::Header() const {
  return fmt::format("{:<25} {:>7}  {:<18} {:>10} {:>11} {:>6} {:>5} {:>4} {:>5}\n", "TIME", "SEQ",
                     "WHAT", "LAT", "LON", "KM/H", "HDG", "SATS", "HDOP");
}

std::string TrackTable::Line(const cit::v1::StoredRecord& stored) {
  const cit::v1::Record& r = stored.record();
  if (records_ == 0) first_ = r.event_time();
  last_ = r.event_time();
  ++records_;
  ++by_kind_[KindOf(r)];
  std::string line = fmt::format("{:<25} {:>7}  {:<18}", WallClockText(r.event_time(), zone_),
                                 r.seq(), RecordWhat(r));
  if (r.has_fix()) {
    const cit::v1::Fix& f = r.fix();
    const auto opt = [](bool has, double v, const char* spec) {
      return has ? fmt::format(fmt::runtime(spec), v) : std::string("-");
    };
    line += fmt::format(" {:>10.6f} {:>11.6f} {:>6} {:>5} {:>4} {:>5}", f.lat_deg(), f.lon_deg(),
                        opt(f.has_speed_mps(), f.speed_mps() * 3.6, "{:.0f}"),
                        opt(f.has_track_deg(), f.track_deg(), "{:.0f}"),
                        f.has_satellites_used() ? std::to_string(f.satellites_used()) : "-",
                        opt(f.has_hdop(), f.hdop(), "{:.1f}"));
  } else if (r.has_gnss() && !r.gnss().detail().empty()) {
    line += "  " + r.gnss().detail();
  }
  // Trailing blanks of the padded WHAT column stay out of lines without a position.
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

std::string TrackTable::Summary() const {
  if (records_ == 0) return "No records in this range.\n";
  std::string parts;
  for (const auto& [kind, n] : by_kind_) {
    if (!parts.empty()) parts += ", ";
    parts += Grouped(n) + " " + kind;
  }
  return fmt::format("{} record{} ({}) from {} to {}\n", Grouped(records_),
                     records_ == 1 ? "" : "s", parts, WallClockText(first_, zone_),
                     WallClockText(last_, zone_));
}

}  // namespace cit::ctl
