#include "dispatch-server/ingest/record_validator.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

using cit::v1::RejectReason;

Rejection Reject(RejectReason reason, std::string detail) { return {reason, std::move(detail)}; }

// Checks an optional float field: must be finite and within [lo, hi] when present.
std::optional<Rejection> CheckOptional(bool present, double v, const char* name, double lo,
                                       double hi) {
  if (!present) return std::nullopt;
  if (!std::isfinite(v))
    return Reject(cit::v1::REJECT_REASON_NON_FINITE, absl::StrCat(name, " not finite"));
  if (v < lo || v > hi) {
    return Reject(cit::v1::REJECT_REASON_OUT_OF_RANGE,
                  absl::StrCat(name, " ", v, " outside [", lo, ", ", hi, "]"));
  }
  return std::nullopt;
}

// Timestamps are stored as int64 nanoseconds since the epoch: seconds beyond +-(2^63-1)/1e9
// (years 1677..2262) would overflow (INT64_MAX seconds used to be stored as -1e9 ns).
constexpr int64_t kMaxStorableSeconds = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;

std::optional<Rejection> CheckTimestamp(const google::protobuf::Timestamp& ts, const char* name) {
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return Reject(cit::v1::REJECT_REASON_MALFORMED,
                  absl::StrCat(name, ".nanos ", ts.nanos(), " invalid"));
  }
  if (ts.seconds() < -kMaxStorableSeconds || ts.seconds() > kMaxStorableSeconds) {
    return Reject(
        cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE,
        absl::StrCat(name, ".seconds ", ts.seconds(), " outside [", -kMaxStorableSeconds, ", ",
                     kMaxStorableSeconds, "] (years 1677 to 2262, storable as nanoseconds)"));
  }
  return std::nullopt;
}

std::optional<Rejection> CheckFix(const cit::v1::Fix& f) {
  if (!std::isfinite(f.lat_deg()) || !std::isfinite(f.lon_deg())) {
    return Reject(cit::v1::REJECT_REASON_NON_FINITE, "lat/lon not finite");
  }
  if (f.lat_deg() < -90 || f.lat_deg() > 90) {
    return Reject(cit::v1::REJECT_REASON_OUT_OF_RANGE,
                  absl::StrCat("lat_deg ", f.lat_deg(), " outside [-90, 90]"));
  }
  if (f.lon_deg() < -180 || f.lon_deg() > 180) {
    return Reject(cit::v1::REJECT_REASON_OUT_OF_RANGE,
                  absl::StrCat("lon_deg ", f.lon_deg(), " outside [-180, 180]"));
  }
  // Generous physical bounds: they catch garbage, not unusual but real values.
  if (auto r = CheckOptional(f.has_alt_m(), f.alt_m(), "alt_m", -1000, 100'000)) return r;
  if (auto r = CheckOptional(f.has_speed_mps(), f.speed_mps(), "speed_mps", 0, 2000)) return r;
  if (auto r = CheckOptional(f.has_track_deg(), f.track_deg(), "track_deg", 0, 360)) return r;
  if (auto r = CheckOptional(f.has_hdop(), f.hdop(), "hdop", 0, 1000)) return r;
  if (auto r = CheckOptional(f.has_eph_m(), f.eph_m(), "eph_m", 0, 1e6)) return r;
  if (auto r = CheckOptional(f.has_epv_m(), f.epv_m(), "epv_m", 0, 1e6)) return r;
  if (auto r = CheckOptional(f.has_eps_mps(), f.eps_mps(), "eps_mps", 0, 1e4)) return r;
  if (f.has_jam_indicator() && f.jam_indicator() > 255) {
    return Reject(cit::v1::REJECT_REASON_OUT_OF_RANGE, "jam_indicator above 255");
  }
  if (f.has_satellites_used() && f.satellites_used() > 1000) {
    return Reject(cit::v1::REJECT_REASON_OUT_OF_RANGE, "satellites_used above 1000");
  }
  if (!cit::v1::FixMode_IsValid(f.mode())) {
    return Reject(cit::v1::REJECT_REASON_OUT_OF_RANGE, absl::StrCat("unknown fix mode ", f.mode()));
  }
  if (f.has_receiver_time()) {
    if (auto r = CheckTimestamp(f.receiver_time(), "receiver_time")) return r;
  }
  return std::nullopt;
}

std::optional<Rejection> CheckString(const std::string& s, const char* name, size_t max) {
  if (s.size() > max) {
    return Reject(cit::v1::REJECT_REASON_OUT_OF_RANGE,
                  absl::StrCat(name, " longer than ", max, " bytes"));
  }
  return std::nullopt;
}

}  // namespace

bool IsValidVehicleId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

std::optional<Rejection> ValidateRecord(const cit::v1::Record& record,
                                        std::string_view authenticated_vehicle,
                                        std::chrono::system_clock::time_point now,
                                        const ValidationLimits& limits) {
  if (!record.vehicle_id().empty() && record.vehicle_id() != authenticated_vehicle) {
    return Reject(cit::v1::REJECT_REASON_WRONG_VEHICLE,
                  fmt::format("record claims vehicle '{}' on a stream authenticated as '{}'",
                              record.vehicle_id().substr(0, 64), authenticated_vehicle));
  }
  if (record.seq() == 0) return Reject(cit::v1::REJECT_REASON_BAD_SEQ, "seq 0");
  if (!record.has_event_time()) return Reject(cit::v1::REJECT_REASON_MALFORMED, "no event_time");
  if (auto r = CheckTimestamp(record.event_time(), "event_time")) return r;
  const int64_t event_s = record.event_time().seconds();
  if (event_s < limits.min_event_time_unix_s) {
    return Reject(cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE,
                  absl::StrCat("event_time ", event_s, " s before the earliest accepted time ",
                               limits.min_event_time_unix_s));
  }
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (event_s > now_s + limits.max_future.count()) {
    return Reject(cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE,
                  absl::StrCat("event_time ", event_s, " s is more than ",
                               limits.max_future.count(), " s ahead of server time ", now_s));
  }
  if (record.has_agent_time()) {
    if (auto r = CheckTimestamp(record.agent_time(), "agent_time")) return r;
  }
  switch (record.payload_case()) {
    case cit::v1::Record::kFix:
      return CheckFix(record.fix());
    case cit::v1::Record::kDoor:
      if (!cit::v1::DoorState_IsValid(record.door().state()) ||
          record.door().state() == cit::v1::DOOR_STATE_UNSPECIFIED) {
        return Reject(cit::v1::REJECT_REASON_MALFORMED, "door state unspecified or unknown");
      }
      return std::nullopt;
    case cit::v1::Record::kSeal:
      if (!cit::v1::SealState_IsValid(record.seal().state()) ||
          record.seal().state() == cit::v1::SEAL_STATE_UNSPECIFIED) {
        return Reject(cit::v1::REJECT_REASON_MALFORMED, "seal state unspecified or unknown");
      }
      return std::nullopt;
    case cit::v1::Record::kPanic:
      return CheckString(record.panic().source(), "panic.source", limits.max_string_bytes);
    case cit::v1::Record::kCrew:
      if (!cit::v1::CrewAction_IsValid(record.crew().action()) ||
          record.crew().action() == cit::v1::CREW_ACTION_UNSPECIFIED) {
        return Reject(cit::v1::REJECT_REASON_MALFORMED, "crew action unspecified or unknown");
      }
      return CheckString(record.crew().badge_id(), "crew.badge_id", limits.max_string_bytes);
    case cit::v1::Record::kGnss:
      if (!cit::v1::GnssState_IsValid(record.gnss().state())) {
        return Reject(cit::v1::REJECT_REASON_MALFORMED, "unknown gnss state");
      }
      return CheckString(record.gnss().detail(), "gnss.detail", limits.max_string_bytes);
    case cit::v1::Record::kHeartbeat:
      return std::nullopt;
    case cit::v1::Record::PAYLOAD_NOT_SET:
      break;
  }
  return Reject(cit::v1::REJECT_REASON_MALFORMED, "payload missing or of an unknown kind");
}

}  // namespace cit::dispatch
