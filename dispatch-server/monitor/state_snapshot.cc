#include "dispatch-server/monitor/state_snapshot.h"

#include <openssl/evp.h>

#include <bit>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

// CITSNAP2: issue 13's progress chain, freeze and escalation state. A CITSNAP1 snapshot is
// refused (bad magic) and the run is replayed whole, as for any unusable snapshot.
constexpr std::string_view kMagic = "CITSNAP2";
constexpr size_t kDigestBytes = 32;
// Bounds that no real state reaches; a decoded length beyond them is corruption, refused before
// anything is allocated for it.
constexpr uint32_t kMaxStops = 100'000;
constexpr uint32_t kMaxStringBytes = 1 << 20;
constexpr uint32_t kMaxListItems = 100'000;

// SHA-256 of `bytes`; empty when OpenSSL fails (the caller treats that as a mismatch).
std::string Sha256(std::string_view bytes) {
  std::string out(kDigestBytes, '\0');
  unsigned int n = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(out.data()), &n,
                 EVP_sha256(), nullptr) != 1 ||
      n != kDigestBytes) {
    return {};
  }
  return out;
}

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F64(double v) { U64(std::bit_cast<uint64_t>(v)); }
  void Time(SysTime t) { I64(t.time_since_epoch().count()); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Pos(const geo::LonLat& p) {
    F64(p.lon_deg());
    F64(p.lat_deg());
  }
  void OptPos(const std::optional<geo::LonLat>& p) {
    Bool(p.has_value());
    if (p) Pos(*p);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool AtEnd() const { return pos_ == in_.size(); }

  uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  bool Bool() {
    const uint8_t v = U8();
    if (v > 1) Fail("bad boolean");
    return v == 1;
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  double F64() { return std::bit_cast<double>(U64()); }
  SysTime Time() { return SysTime(Duration(I64())); }
  std::string Str() {
    const uint32_t n = U32();
    if (n > kMaxStringBytes) {
      Fail("string too long");
      return {};
    }
    if (!Need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  geo::LonLat Pos() {
    const double lon = F64();
    const double lat = F64();
    // Only positions the monitor accepted are stored: finite and in range.
    absl::StatusOr<geo::LonLat> p = geo::LonLat::Create(geo::Longitude{lon}, geo::Latitude{lat});
    if (!p.ok()) {
      Fail("position out of range");
      return *geo::LonLat::Create(geo::Longitude{0}, geo::Latitude{0});
    }
    return *p;
  }
  std::optional<geo::LonLat> OptPos() {
    if (!Bool()) return std::nullopt;
    return Pos();
  }
  // A count that bounds a list; refused above `max`.
  uint32_t Count(uint32_t max, const char* what) {
    const uint32_t n = U32();
    if (n > max) Fail(absl::StrCat("too many ", what));
    return ok() ? n : 0;
  }
  void Fail(std::string why) {
    if (error_.empty()) error_ = absl::StrCat(why, " at byte ", pos_);
  }

 private:
  bool Need(size_t n) {
    if (!ok()) return false;
    if (in_.size() - pos_ < n) {
      Fail("truncated");
      return false;
    }
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

void PutStop(Writer& w, const StopTrack& s) {
  w.U8(static_cast<uint8_t>(s.status));
  w.Time(s.arrived);
  w.Time(s.departed);
  w.U8(s.outside_fixes);
  w.Bool(s.late);
  w.Bool(s.early);
  w.Bool(s.out_of_order);
  w.Bool(s.dwell_alerted);
  w.Bool(s.late_alerted);
  w.Bool(s.missed_alerted);
  w.U32(s.door_openings);
}

StopTrack GetStop(Reader& r) {
  StopTrack s;
  const uint8_t status = r.U8();
  if (status > static_cast<uint8_t>(StopStatus::kMissed)) r.Fail("bad stop status");
  s.status = static_cast<StopStatus>(status);
  s.arrived = r.Time();
  s.departed = r.Time();
  s.outside_fixes = r.U8();
  s.late = r.Bool();
  s.early = r.Bool();
  s.out_of_order = r.Bool();
  s.dwell_alerted = r.Bool();
  s.late_alerted = r.Bool();
  s.missed_alerted = r.Bool();
  s.door_openings = r.U32();
  return s;
}

void PutFix(Writer& w, const FixContext& f) {
  w.Time(f.event_time);
  w.U64(f.seq);
  w.Pos(f.position);
  w.F64(f.eph_m);
  w.F64(f.reported_speed_mps);
  w.F64(f.eps_mps);
  w.U32(f.jam_indicator);
  w.Bool(f.has_jam_indicator);
  w.F64(f.speed_mps);
  w.F64(f.dt_s);
  w.Bool(f.on_run);
  w.F64(f.distance_m);
  w.F64(f.progress_m);
  w.U32(static_cast<uint32_t>(f.stop_index));
  w.Bool(f.progress_continuous);
  w.Bool(f.frozen_while_moving);
}

FixContext GetFix(Reader& r) {
  const SysTime event_time = r.Time();
  const uint64_t seq = r.U64();
  FixContext f(r.Pos());
  f.event_time = event_time;
  f.seq = seq;
  f.eph_m = r.F64();
  f.reported_speed_mps = r.F64();
  f.eps_mps = r.F64();
  f.jam_indicator = r.U32();
  f.has_jam_indicator = r.Bool();
  f.speed_mps = r.F64();
  f.dt_s = r.F64();
  f.on_run = r.Bool();
  f.distance_m = r.F64();
  f.progress_m = r.F64();
  f.stop_index = static_cast<int>(r.U32());
  f.progress_continuous = r.Bool();
  f.frozen_while_moving = r.Bool();
  return f;
}

void PutMessage(Writer& w, const google::protobuf::Message& m) {
  std::string bytes;
  m.SerializeToString(&bytes);
  w.Str(bytes);
}

void GetMessage(Reader& r, google::protobuf::Message* m) {
  const std::string bytes = r.Str();
  if (r.ok() && !m->ParseFromString(bytes)) r.Fail("bad embedded message");
}

void PutHeader(Writer& w, const SnapshotHeader& h) {
  w.Str(h.vehicle_id);
  w.Str(h.run_id);
  w.U32(h.plan_version);
  w.U64(h.last_seq);
  w.U64(h.alerts_through);
  w.Time(h.taken_at);
}

SnapshotHeader GetHeader(Reader& r) {
  SnapshotHeader h;
  h.vehicle_id = r.Str();
  h.run_id = r.Str();
  h.plan_version = r.U32();
  h.last_seq = r.U64();
  h.alerts_through = r.U64();
  h.taken_at = r.Time();
  return h;
}

// The run's stop state machine and where the vehicle is on the route.
void PutRunProgress(Writer& w, const VehicleState& v) {
  w.U32(static_cast<uint32_t>(v.run_state));
  w.U32(static_cast<uint32_t>(v.stops.size()));
  for (const StopTrack& s : v.stops) PutStop(w, s);
  w.U32(static_cast<uint32_t>(v.current_stop));
  w.U32(static_cast<uint32_t>(v.next_stop));
  w.F64(v.progress_m);
  w.Bool(v.has_progress);
  w.F64(v.distance_m);
  w.U32(v.corridor_hint.segment);
  w.U32(v.corridor_hint.hits);
  w.U32(v.corridor_hint.misses);
  const ProgressChainState& c = v.progress_chain;
  w.U32(c.fixes);
  w.OptPos(c.last_position);
  w.F64(c.last_progress_m);
  w.F64(c.last_eph_m);
  w.F64(c.start_progress_m);
  w.F64(c.min_progress_m);
  w.OptPos(c.candidate_position);
  w.F64(c.candidate_progress_m);
  w.F64(c.candidate_eph_m);
  w.OptPos(c.path_last);
  w.Time(c.path_last_time);
  w.F64(c.path_m);
  w.F64(c.unseen_s);
  w.F64(c.candidate_path_m);
  w.F64(c.candidate_unseen_s);
}

void GetRunProgress(Reader& r, VehicleState& v) {
  const uint32_t run_state = r.U32();
  if (!cit::v1::RunState_IsValid(static_cast<int>(run_state))) r.Fail("bad run state");
  v.run_state = static_cast<cit::v1::RunState>(run_state);
  const uint32_t stops = r.Count(kMaxStops, "stops");
  v.stops.reserve(stops);
  for (uint32_t i = 0; i < stops && r.ok(); ++i) v.stops.push_back(GetStop(r));
  v.current_stop = static_cast<int>(r.U32());
  v.next_stop = static_cast<int>(r.U32());
  // Indexes into the stop vector: anything else would be read out of bounds by the rules.
  if (v.current_stop < -1 || v.current_stop >= static_cast<int>(v.stops.size()) ||
      v.next_stop < 0 || v.next_stop > static_cast<int>(v.stops.size())) {
    r.Fail("stop index out of range");
  }
  v.progress_m = r.F64();
  v.has_progress = r.Bool();
  v.distance_m = r.F64();
  v.corridor_hint.segment = r.U32();
  v.corridor_hint.hits = r.U32();
  v.corridor_hint.misses = r.U32();
  ProgressChainState& c = v.progress_chain;
  c.fixes = r.U32();
  c.last_position = r.OptPos();
  c.last_progress_m = r.F64();
  c.last_eph_m = r.F64();
  c.start_progress_m = r.F64();
  c.min_progress_m = r.F64();
  c.candidate_position = r.OptPos();
  c.candidate_progress_m = r.F64();
  c.candidate_eph_m = r.F64();
  c.path_last = r.OptPos();
  c.path_last_time = r.Time();
  c.path_m = r.F64();
  c.unseen_s = r.F64();
  c.candidate_path_m = r.F64();
  c.candidate_unseen_s = r.F64();
  // ExtendChain reads last_position whenever fixes > 0.
  if (c.fixes > 0 && !c.last_position) r.Fail("progress chain without a last position");
}

// Last fix, last record, GNSS state, doors and seals, motion.
void PutSensors(Writer& w, const VehicleState& v) {
  w.Bool(v.last_fix.has_value());
  if (v.last_fix) PutFix(w, *v.last_fix);
  PutMessage(w, v.last_fix_proto);
  w.Time(v.last_fix_time);
  w.Time(v.last_seen_event);
  w.Time(v.last_seen_server);
  w.Bool(v.has_seen);
  w.U32(static_cast<uint32_t>(v.gnss_state));
  w.F64(v.typical_speed_mps);
  w.U64(v.doors_open);
  w.U64(v.seals_broken);
  w.U64(v.highest_seq);
  w.U32(static_cast<uint32_t>(v.doors_awaiting_position.size()));
  for (const cit::v1::Record& rec : v.doors_awaiting_position) PutMessage(w, rec);
  const MotionState& m = v.motion;
  w.Bool(m.moving);
  w.Bool(m.stopped_since.has_value());
  if (m.stopped_since) w.Time(*m.stopped_since);
  w.OptPos(m.stop_anchor);
  w.U8(m.fast_fixes);
  w.OptPos(m.last_distinct);
  w.Time(m.last_distinct_time);
  w.Bool(m.frozen);
  w.Time(m.frozen_since);
  w.F64(m.last_distinct_speed_mps);
  w.Bool(m.frozen_while_moving);
}

void GetSensors(Reader& r, VehicleState& v) {
  if (r.Bool()) v.last_fix = GetFix(r);
  GetMessage(r, &v.last_fix_proto);
  v.last_fix_time = r.Time();
  v.last_seen_event = r.Time();
  v.last_seen_server = r.Time();
  v.has_seen = r.Bool();
  const uint32_t gnss = r.U32();
  if (!cit::v1::GnssState_IsValid(static_cast<int>(gnss))) r.Fail("bad GNSS state");
  v.gnss_state = static_cast<cit::v1::GnssState>(gnss);
  v.typical_speed_mps = r.F64();
  v.doors_open = r.U64();
  v.seals_broken = r.U64();
  v.highest_seq = r.U64();
  const uint32_t doors = r.Count(kMaxListItems, "waiting door records");
  for (uint32_t i = 0; i < doors && r.ok(); ++i) {
    GetMessage(r, &v.doors_awaiting_position.emplace_back());
  }
  MotionState& m = v.motion;
  m.moving = r.Bool();
  if (r.Bool()) m.stopped_since = r.Time();
  m.stop_anchor = r.OptPos();
  m.fast_fixes = r.U8();
  m.last_distinct = r.OptPos();
  m.last_distinct_time = r.Time();
  m.frozen = r.Bool();
  m.frozen_since = r.Time();
  m.last_distinct_speed_mps = r.F64();
  m.frozen_while_moving = r.Bool();
}

// Each rule's own block (rules/vehicle_state.h), in declaration order.
void PutRuleStates(Writer& w, const VehicleState& v) {
  const DeviationState& d = v.deviation;
  w.U32(d.off_fixes);
  w.Time(d.off_since);
  w.F64(d.max_distance_m);
  w.U32(d.in_fixes);
  w.Bool(d.active);
  w.Bool(d.critical);
  w.U32(d.escalation_step);
  const WrongDirectionState& wd = v.wrong_direction;
  w.Bool(wd.has_max);
  w.F64(wd.max_progress_m);
  w.F64(wd.last_progress_m);
  w.U32(wd.back_fixes);
  w.U32(wd.forward_fixes);
  w.Bool(wd.active);
  w.Bool(v.unscheduled_stop.active);
  const OverspeedState& o = v.overspeed;
  w.U32(o.over_fixes);
  w.Time(o.over_since);
  w.F64(o.max_speed_mps);
  w.U32(o.ok_fixes);
  w.Bool(o.active);
  const ImplausibleState& im = v.implausible;
  w.OptPos(im.last_position);
  w.Time(im.last_time);
  w.F64(im.last_eph_m);
  w.F64(im.last_speed_mps);
  w.U32(im.plausible_fixes);
  w.Bool(im.active);
  w.U32(im.jam_ok_fixes);
  w.Bool(im.jam_active);
  const GnssLostState& g = v.gnss_lost;
  w.Bool(g.lost);
  w.Time(g.lost_since);
  w.Time(g.lost_since_server);
  w.Bool(g.active);
  w.Bool(g.frozen);
  w.Time(v.comms.last_seen_server);
  w.Bool(v.comms.active);
  w.OptPos(v.moved_without_run.anchor);
  w.Bool(v.moved_without_run.active);
  w.U32(static_cast<uint32_t>(v.crew.on_board.size()));
  for (const std::string& badge : v.crew.on_board) w.Str(badge);
  w.Bool(v.crew.active);
  w.Str(v.crew.subject);
}

void GetRuleStates(Reader& r, VehicleState& v) {
  DeviationState& d = v.deviation;
  d.off_fixes = r.U32();
  d.off_since = r.Time();
  d.max_distance_m = r.F64();
  d.in_fixes = r.U32();
  d.active = r.Bool();
  d.critical = r.Bool();
  d.escalation_step = r.U32();
  WrongDirectionState& wd = v.wrong_direction;
  wd.has_max = r.Bool();
  wd.max_progress_m = r.F64();
  wd.last_progress_m = r.F64();
  wd.back_fixes = r.U32();
  wd.forward_fixes = r.U32();
  wd.active = r.Bool();
  v.unscheduled_stop.active = r.Bool();
  OverspeedState& o = v.overspeed;
  o.over_fixes = r.U32();
  o.over_since = r.Time();
  o.max_speed_mps = r.F64();
  o.ok_fixes = r.U32();
  o.active = r.Bool();
  ImplausibleState& im = v.implausible;
  im.last_position = r.OptPos();
  im.last_time = r.Time();
  im.last_eph_m = r.F64();
  im.last_speed_mps = r.F64();
  im.plausible_fixes = r.U32();
  im.active = r.Bool();
  im.jam_ok_fixes = r.U32();
  im.jam_active = r.Bool();
  GnssLostState& g = v.gnss_lost;
  g.lost = r.Bool();
  g.lost_since = r.Time();
  g.lost_since_server = r.Time();
  g.active = r.Bool();
  g.frozen = r.Bool();
  v.comms.last_seen_server = r.Time();
  v.comms.active = r.Bool();
  v.moved_without_run.anchor = r.OptPos();
  v.moved_without_run.active = r.Bool();
  const uint32_t crew = r.Count(kMaxListItems, "crew badges");
  for (uint32_t i = 0; i < crew && r.ok(); ++i) v.crew.on_board.push_back(r.Str());
  v.crew.active = r.Bool();
  v.crew.subject = r.Str();
}

}  // namespace

std::string EncodeSnapshot(const SnapshotHeader& header, const VehicleState& state) {
  Writer w;
  for (char c : kMagic) w.U8(static_cast<uint8_t>(c));
  PutHeader(w, header);
  PutRunProgress(w, state);
  PutSensors(w, state);
  PutRuleStates(w, state);
  std::string out = w.Take();
  const std::string digest = Sha256(out);
  // Without a digest the snapshot would never verify: store nothing rather than a placeholder.
  if (digest.empty()) return {};
  out += digest;
  return out;
}

absl::StatusOr<DecodedSnapshot> DecodeSnapshot(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + kDigestBytes || bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::DataLossError("not a monitor snapshot (bad magic or too short)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kDigestBytes);
  if (Sha256(body) != bytes.substr(body.size())) {
    return absl::DataLossError("monitor snapshot checksum mismatch");
  }
  Reader r(body.substr(kMagic.size()));
  DecodedSnapshot out;
  out.header = GetHeader(r);
  out.state = std::make_unique<VehicleState>();
  VehicleState& v = *out.state;
  v.vehicle_id = out.header.vehicle_id;
  GetRunProgress(r, v);
  GetSensors(r, v);
  GetRuleStates(r, v);
  if (r.ok() && !r.AtEnd()) r.Fail("trailing bytes");
  if (!r.ok()) return absl::DataLossError(absl::StrCat("monitor snapshot: ", r.error()));
  return out;
}

}  // namespace cit::dispatch
