// Monitor snapshots (monitor/state_snapshot.h): every piece of VehicleState that a snapshot
// carries comes back equal, and bytes that are not an intact snapshot are refused with an error,
// never decoded into a state.
#include "dispatch-server/monitor/state_snapshot.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

const SysTime kT0 = FromUnixSeconds(1'700'000'000);
SysTime T(double s) { return kT0 + FromSeconds(s); }

// Every encoded field set to a value different from its default.
VehicleState FullState() {
  VehicleState v;
  v.vehicle_id = "truck-7";
  v.run_state = cit::v1::RUN_STATE_ACTIVE;
  for (int i = 0; i < 3; ++i) {
    StopTrack s;
    s.status = static_cast<StopStatus>(i + 1);
    s.arrived = T(100 + i);
    s.departed = T(200 + i);
    s.outside_fixes = static_cast<uint8_t>(i + 1);
    s.late = i == 0;
    s.early = i == 1;
    s.out_of_order = i == 2;
    s.dwell_alerted = true;
    s.late_alerted = i != 0;
    s.missed_alerted = i != 1;
    s.door_openings = 7u + static_cast<uint32_t>(i);
    v.stops.push_back(s);
  }
  v.current_stop = 1;
  v.next_stop = 2;
  v.progress_m = 1234.5;
  v.has_progress = true;
  v.distance_m = 17.25;
  v.corridor_hint.segment = 42;
  v.corridor_hint.hits = 9;
  v.corridor_hint.misses = 3;
  FixContext f(*geo::LonLat::Create(geo::Longitude{8.5}, geo::Latitude{47.25}));
  f.event_time = T(300);
  f.seq = 812;
  f.eph_m = 4.5;
  f.reported_speed_mps = 11.5;
  f.eps_mps = 0.5;
  f.jam_indicator = 77;
  f.has_jam_indicator = true;
  f.speed_mps = 11.25;
  f.dt_s = 1.0;
  f.on_run = true;
  f.distance_m = 12.0;
  f.progress_m = 1230.0;
  f.stop_index = -1;
  f.progress_continuous = true;
  f.frozen_while_moving = true;
  v.last_fix = f;
  v.last_fix_proto.set_lat_deg(47.25);
  v.last_fix_proto.set_lon_deg(8.5);
  v.last_fix_proto.set_mode(cit::v1::FIX_MODE_3D);
  v.last_fix_time = T(300);
  v.last_seen_event = T(301);
  v.last_seen_server = T(302);
  v.has_seen = true;
  v.gnss_state = cit::v1::GNSS_STATE_FIX_LOST;
  v.typical_speed_mps = 9.75;
  v.doors_open = 0b101;
  v.seals_broken = 0b10;
  v.highest_seq = 811;
  cit::v1::Record door;
  door.set_seq(900);
  door.mutable_door()->set_door(2);
  door.mutable_door()->set_state(cit::v1::DOOR_STATE_OPEN);
  v.doors_awaiting_position.push_back(door);
  v.motion.moving = true;
  v.motion.stopped_since = T(250);
  v.motion.stop_anchor = *geo::LonLat::Create(geo::Longitude{8.4}, geo::Latitude{47.2});
  v.motion.fast_fixes = 2;
  v.motion.last_distinct = *geo::LonLat::Create(geo::Longitude{8.49}, geo::Latitude{47.24});
  v.motion.last_distinct_time = T(299);
  v.motion.frozen = true;
  v.motion.frozen_since = T(298);
  v.motion.last_distinct_speed_mps = 14.5;
  v.motion.frozen_while_moving = true;
  v.progress_chain.fixes = 7;
  v.progress_chain.last_position = *geo::LonLat::Create(geo::Longitude{8.47}, geo::Latitude{47.22});
  v.progress_chain.last_progress_m = 1229.0;
  v.progress_chain.last_eph_m = 4.5;
  v.progress_chain.start_progress_m = 900.0;
  v.progress_chain.min_progress_m = 880.0;
  v.progress_chain.candidate_position =
      *geo::LonLat::Create(geo::Longitude{8.46}, geo::Latitude{47.21});
  v.progress_chain.candidate_progress_m = 5000.0;
  v.progress_chain.candidate_eph_m = 3.5;
  v.progress_chain.path_last = *geo::LonLat::Create(geo::Longitude{8.45}, geo::Latitude{47.2});
  v.progress_chain.path_last_time = T(296);
  v.progress_chain.path_m = 120.5;
  v.progress_chain.unseen_s = 12.0;
  v.progress_chain.candidate_path_m = 20.5;
  v.progress_chain.candidate_unseen_s = 2.0;
  v.deviation = {3, T(280), 250.5, 1, true, true, 2};
  v.wrong_direction = {true, 1500.0, 1400.0, 2, 1, true};
  v.unscheduled_stop.active = true;
  v.overspeed = {4, T(270), 31.5, 1, true};
  v.implausible.last_position = *geo::LonLat::Create(geo::Longitude{8.48}, geo::Latitude{47.23});
  v.implausible.last_time = T(297);
  v.implausible.last_eph_m = 6.5;
  v.implausible.last_speed_mps = 10.5;
  v.implausible.plausible_fixes = 5;
  v.implausible.active = true;
  v.implausible.jam_ok_fixes = 6;
  v.implausible.jam_active = true;
  v.gnss_lost.lost = true;
  v.gnss_lost.lost_since = T(260);
  v.gnss_lost.lost_since_server = T(261);
  v.gnss_lost.active = true;
  v.gnss_lost.frozen = true;
  v.comms.last_seen_server = T(302);
  v.comms.active = true;
  v.moved_without_run.anchor = *geo::LonLat::Create(geo::Longitude{8.3}, geo::Latitude{47.1});
  v.moved_without_run.active = true;
  v.crew.on_board = {"B-1", "B-2"};
  v.crew.active = true;
  v.crew.subject = "S1";
  return v;
}

SnapshotHeader Header() {
  SnapshotHeader h;
  h.vehicle_id = "truck-7";
  h.run_id = "run-1";
  h.plan_version = 3;
  h.last_seq = 812;
  h.alerts_through = 4711;
  h.taken_at = T(303);
  return h;
}

bool SamePos(const std::optional<geo::LonLat>& a, const std::optional<geo::LonLat>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->lon_deg() == b->lon_deg() && a->lat_deg() == b->lat_deg());
}

TEST(StateSnapshotTest, EveryPieceOfTheStateRoundTrips) {
  const VehicleState a = FullState();
  const SnapshotHeader h = Header();
  absl::StatusOr<DecodedSnapshot> d = DecodeSnapshot(EncodeSnapshot(h, a));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->header.vehicle_id, h.vehicle_id);
  EXPECT_EQ(d->header.run_id, h.run_id);
  EXPECT_EQ(d->header.plan_version, h.plan_version);
  EXPECT_EQ(d->header.last_seq, h.last_seq);
  EXPECT_EQ(d->header.alerts_through, h.alerts_through);
  EXPECT_EQ(d->header.taken_at, h.taken_at);
  const VehicleState& b = *d->state;
  EXPECT_EQ(b.vehicle_id, a.vehicle_id);
  EXPECT_EQ(b.run_state, a.run_state);
  ASSERT_EQ(b.stops.size(), a.stops.size());
  for (size_t i = 0; i < a.stops.size(); ++i) {
    SCOPED_TRACE(i);
    const StopTrack& x = a.stops[i];
    const StopTrack& y = b.stops[i];
    EXPECT_EQ(y.status, x.status);
    EXPECT_EQ(y.arrived, x.arrived);
    EXPECT_EQ(y.departed, x.departed);
    EXPECT_EQ(y.outside_fixes, x.outside_fixes);
    EXPECT_EQ(y.late, x.late);
    EXPECT_EQ(y.early, x.early);
    EXPECT_EQ(y.out_of_order, x.out_of_order);
    EXPECT_EQ(y.dwell_alerted, x.dwell_alerted);
    EXPECT_EQ(y.late_alerted, x.late_alerted);
    EXPECT_EQ(y.missed_alerted, x.missed_alerted);
    EXPECT_EQ(y.door_openings, x.door_openings);
  }
  EXPECT_EQ(b.current_stop, a.current_stop);
  EXPECT_EQ(b.next_stop, a.next_stop);
  EXPECT_EQ(b.progress_m, a.progress_m);
  EXPECT_EQ(b.has_progress, a.has_progress);
  EXPECT_EQ(b.distance_m, a.distance_m);
  EXPECT_EQ(b.corridor_hint.segment, a.corridor_hint.segment);
  EXPECT_EQ(b.corridor_hint.hits, a.corridor_hint.hits);
  EXPECT_EQ(b.corridor_hint.misses, a.corridor_hint.misses);
  // The progress chain (rules/route_progress.h).
  const ProgressChainState& pc = a.progress_chain;
  const ProgressChainState& qc = b.progress_chain;
  EXPECT_EQ(qc.fixes, pc.fixes);
  EXPECT_TRUE(SamePos(qc.last_position, pc.last_position));
  EXPECT_EQ(qc.last_progress_m, pc.last_progress_m);
  EXPECT_EQ(qc.last_eph_m, pc.last_eph_m);
  EXPECT_EQ(qc.start_progress_m, pc.start_progress_m);
  EXPECT_EQ(qc.min_progress_m, pc.min_progress_m);
  EXPECT_TRUE(SamePos(qc.candidate_position, pc.candidate_position));
  EXPECT_EQ(qc.candidate_progress_m, pc.candidate_progress_m);
  EXPECT_EQ(qc.candidate_eph_m, pc.candidate_eph_m);
  EXPECT_TRUE(SamePos(qc.path_last, pc.path_last));
  EXPECT_EQ(qc.path_last_time, pc.path_last_time);
  EXPECT_EQ(qc.path_m, pc.path_m);
  EXPECT_EQ(qc.unseen_s, pc.unseen_s);
  EXPECT_EQ(qc.candidate_path_m, pc.candidate_path_m);
  EXPECT_EQ(qc.candidate_unseen_s, pc.candidate_unseen_s);
  // Last fix, with everything the monitor derived from it.
  ASSERT_TRUE(b.last_fix.has_value());
  const FixContext& f = *a.last_fix;
  const FixContext& g = *b.last_fix;
  EXPECT_EQ(g.event_time, f.event_time);
  EXPECT_EQ(g.seq, f.seq);
  EXPECT_TRUE(SamePos(g.position, f.position));
  EXPECT_EQ(g.eph_m, f.eph_m);
  EXPECT_EQ(g.reported_speed_mps, f.reported_speed_mps);
  EXPECT_EQ(g.eps_mps, f.eps_mps);
  EXPECT_EQ(g.jam_indicator, f.jam_indicator);
  EXPECT_EQ(g.has_jam_indicator, f.has_jam_indicator);
  EXPECT_EQ(g.speed_mps, f.speed_mps);
  EXPECT_EQ(g.dt_s, f.dt_s);
  EXPECT_EQ(g.on_run, f.on_run);
  EXPECT_EQ(g.distance_m, f.distance_m);
  EXPECT_EQ(g.progress_m, f.progress_m);
  EXPECT_EQ(g.stop_index, f.stop_index);
  EXPECT_EQ(g.progress_continuous, f.progress_continuous);
  EXPECT_EQ(g.frozen_while_moving, f.frozen_while_moving);
  EXPECT_EQ(b.last_fix_proto.SerializeAsString(), a.last_fix_proto.SerializeAsString());
  EXPECT_EQ(b.last_fix_time, a.last_fix_time);
  EXPECT_EQ(b.last_seen_event, a.last_seen_event);
  EXPECT_EQ(b.last_seen_server, a.last_seen_server);
  EXPECT_EQ(b.has_seen, a.has_seen);
  EXPECT_EQ(b.gnss_state, a.gnss_state);
  EXPECT_EQ(b.typical_speed_mps, a.typical_speed_mps);
  EXPECT_EQ(b.doors_open, a.doors_open);
  EXPECT_EQ(b.seals_broken, a.seals_broken);
  EXPECT_EQ(b.highest_seq, a.highest_seq);
  ASSERT_EQ(b.doors_awaiting_position.size(), 1u);
  EXPECT_EQ(b.doors_awaiting_position[0].SerializeAsString(),
            a.doors_awaiting_position[0].SerializeAsString());
  // Motion.
  EXPECT_EQ(b.motion.moving, a.motion.moving);
  EXPECT_EQ(b.motion.stopped_since, a.motion.stopped_since);
  EXPECT_TRUE(SamePos(b.motion.stop_anchor, a.motion.stop_anchor));
  EXPECT_EQ(b.motion.fast_fixes, a.motion.fast_fixes);
  EXPECT_TRUE(SamePos(b.motion.last_distinct, a.motion.last_distinct));
  EXPECT_EQ(b.motion.last_distinct_time, a.motion.last_distinct_time);
  EXPECT_EQ(b.motion.frozen, a.motion.frozen);
  EXPECT_EQ(b.motion.frozen_since, a.motion.frozen_since);
  EXPECT_EQ(b.motion.last_distinct_speed_mps, a.motion.last_distinct_speed_mps);
  EXPECT_EQ(b.motion.frozen_while_moving, a.motion.frozen_while_moving);
  // Each rule's block.
  EXPECT_EQ(b.deviation.off_fixes, a.deviation.off_fixes);
  EXPECT_EQ(b.deviation.off_since, a.deviation.off_since);
  EXPECT_EQ(b.deviation.max_distance_m, a.deviation.max_distance_m);
  EXPECT_EQ(b.deviation.in_fixes, a.deviation.in_fixes);
  EXPECT_EQ(b.deviation.active, a.deviation.active);
  EXPECT_EQ(b.deviation.critical, a.deviation.critical);
  EXPECT_EQ(b.deviation.escalation_step, a.deviation.escalation_step);
  EXPECT_EQ(b.wrong_direction.has_max, a.wrong_direction.has_max);
  EXPECT_EQ(b.wrong_direction.max_progress_m, a.wrong_direction.max_progress_m);
  EXPECT_EQ(b.wrong_direction.last_progress_m, a.wrong_direction.last_progress_m);
  EXPECT_EQ(b.wrong_direction.back_fixes, a.wrong_direction.back_fixes);
  EXPECT_EQ(b.wrong_direction.forward_fixes, a.wrong_direction.forward_fixes);
  EXPECT_EQ(b.wrong_direction.active, a.wrong_direction.active);
  EXPECT_EQ(b.unscheduled_stop.active, a.unscheduled_stop.active);
  EXPECT_EQ(b.overspeed.over_fixes, a.overspeed.over_fixes);
  EXPECT_EQ(b.overspeed.over_since, a.overspeed.over_since);
  EXPECT_EQ(b.overspeed.max_speed_mps, a.overspeed.max_speed_mps);
  EXPECT_EQ(b.overspeed.ok_fixes, a.overspeed.ok_fixes);
  EXPECT_EQ(b.overspeed.active, a.overspeed.active);
  EXPECT_TRUE(SamePos(b.implausible.last_position, a.implausible.last_position));
  EXPECT_EQ(b.implausible.last_time, a.implausible.last_time);
  EXPECT_EQ(b.implausible.last_eph_m, a.implausible.last_eph_m);
  EXPECT_EQ(b.implausible.last_speed_mps, a.implausible.last_speed_mps);
  EXPECT_EQ(b.implausible.plausible_fixes, a.implausible.plausible_fixes);
  EXPECT_EQ(b.implausible.active, a.implausible.active);
  EXPECT_EQ(b.implausible.jam_ok_fixes, a.implausible.jam_ok_fixes);
  EXPECT_EQ(b.implausible.jam_active, a.implausible.jam_active);
  EXPECT_EQ(b.gnss_lost.lost, a.gnss_lost.lost);
  EXPECT_EQ(b.gnss_lost.lost_since, a.gnss_lost.lost_since);
  EXPECT_EQ(b.gnss_lost.lost_since_server, a.gnss_lost.lost_since_server);
  EXPECT_EQ(b.gnss_lost.frozen, a.gnss_lost.frozen);
  EXPECT_EQ(b.gnss_lost.active, a.gnss_lost.active);
  EXPECT_EQ(b.comms.last_seen_server, a.comms.last_seen_server);
  EXPECT_EQ(b.comms.active, a.comms.active);
  EXPECT_TRUE(SamePos(b.moved_without_run.anchor, a.moved_without_run.anchor));
  EXPECT_EQ(b.moved_without_run.active, a.moved_without_run.active);
  EXPECT_EQ(b.crew.on_board, a.crew.on_board);
  EXPECT_EQ(b.crew.active, a.crew.active);
  EXPECT_EQ(b.crew.subject, a.crew.subject);
  // Not carried: the caller supplies the run and the gate; timers are armed on adoption.
  EXPECT_EQ(b.run, nullptr);
  EXPECT_EQ(b.gate, nullptr);
}

// NaN is a meaningful value (no reported speed) and must survive as NaN.
TEST(StateSnapshotTest, AbsentSpeedsStayNaNAndEmptyOptionalsStayEmpty) {
  VehicleState a;
  a.vehicle_id = "truck-8";
  FixContext f(*geo::LonLat::Create(geo::Longitude{-0.1}, geo::Latitude{51.5}));
  a.last_fix = f;
  absl::StatusOr<DecodedSnapshot> d = DecodeSnapshot(EncodeSnapshot(Header(), a));
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->state->last_fix.has_value());
  EXPECT_TRUE(std::isnan(d->state->last_fix->reported_speed_mps));
  EXPECT_TRUE(std::isnan(d->state->implausible.last_speed_mps));
  EXPECT_FALSE(d->state->motion.stopped_since.has_value());
  EXPECT_FALSE(d->state->motion.stop_anchor.has_value());
  EXPECT_FALSE(d->state->moved_without_run.anchor.has_value());
  EXPECT_TRUE(d->state->stops.empty());
  EXPECT_EQ(d->state->current_stop, -1);
}

TEST(StateSnapshotTest, AnyFlippedByteIsRefused) {
  const std::string bytes = EncodeSnapshot(Header(), FullState());
  ASSERT_FALSE(bytes.empty());
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    absl::StatusOr<DecodedSnapshot> d = DecodeSnapshot(bad);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
  }
}

TEST(StateSnapshotTest, TruncatedEmptyAndForeignBytesAreRefused) {
  const std::string bytes = EncodeSnapshot(Header(), FullState());
  for (size_t n : {size_t{0}, size_t{5}, size_t{40}, bytes.size() - 1}) {
    EXPECT_EQ(DecodeSnapshot(bytes.substr(0, n)).status().code(), absl::StatusCode::kDataLoss) << n;
  }
  EXPECT_EQ(DecodeSnapshot(std::string(200, 'x')).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeSnapshot(bytes + "x").status().code(), absl::StatusCode::kDataLoss);
}

// A stop index outside the stop vector would be read out of bounds by the rules: refused even
// with a valid checksum (the encoder does not check what it is given).
TEST(StateSnapshotTest, StopIndexOutsideTheStopsIsRefusedEvenWithAValidChecksum) {
  VehicleState v = FullState();
  v.current_stop = 3;  // 3 stops: 0..2
  EXPECT_EQ(DecodeSnapshot(EncodeSnapshot(Header(), v)).status().code(),
            absl::StatusCode::kDataLoss);
  v = FullState();
  v.next_stop = -2;
  EXPECT_EQ(DecodeSnapshot(EncodeSnapshot(Header(), v)).status().code(),
            absl::StatusCode::kDataLoss);
}

// The fuzz seeds (tests/fuzz/corpus/state_snapshot/) are snapshots without their digest: they
// must still be snapshots of the current format, or the fuzzer starts from noise. With
// CIT_WRITE_SNAPSHOT_SEEDS=<dir> this test writes them afresh there.
TEST(StateSnapshotTest, FuzzSeedsAreSnapshotsOfTheCurrentFormat) {
  VehicleState idle;
  idle.vehicle_id = "truck-8";
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"full", EncodeSnapshot(Header(), FullState())}, {"idle", EncodeSnapshot(Header(), idle)}};
  if (const char* out = std::getenv("CIT_WRITE_SNAPSHOT_SEEDS"); out != nullptr) {
    for (const auto& [name, bytes] : seeds) {
      std::ofstream(std::filesystem::path(out) / name, std::ios::binary)
          << bytes.substr(0, bytes.size() - 32);
    }
  }
  const std::filesystem::path dir = cit::test::SourcePath("tests/fuzz/corpus/state_snapshot");
  for (const auto& [name, bytes] : seeds) {
    SCOPED_TRACE(name);
    std::ifstream in(dir / name, std::ios::binary);
    ASSERT_TRUE(in) << dir / name;
    std::stringstream seed;
    seed << in.rdbuf();
    EXPECT_EQ(seed.str() + bytes.substr(bytes.size() - 32), bytes);
  }
}

}  // namespace
}  // namespace cit::dispatch
