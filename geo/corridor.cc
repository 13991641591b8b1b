#include "geo/corridor.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>
#include <boost/iterator/function_output_iterator.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "geo/grid_projection.h"
#include "geo/proj_library.h"

namespace cit::geo {
namespace corridor_internal {

// Everything a query reads about one segment, in one cache line: random queries on a long route
// then cost one miss per candidate run instead of one per array.
// Offsets within a segment fit floats (6e-8 relative: well under a millimetre for segments of
// kilometres); absolute positions and progress stay double.
struct alignas(64) SegmentRec {
  double ax, ay;        // projected start, metres
  double cum_m;         // geodesic progress at the start
  double lon_a, lat_a;  // start, degrees (for the nearest point as lon/lat)
  float dx, dy;         // projected end minus start, metres
  float inv_len2;       // 1 / (dx^2 + dy^2); 0 for a zero-length segment
  float len_m;          // geodesic length
  float dlon, dlat;     // end minus start, degrees (longitude wrapped to [-180, 180])
};
static_assert(sizeof(SegmentRec) == 64);

// A segment's neighbourhood and its clearance. The neighbourhood of segment i is the segments
// [i - back, i + fwd] along the route plus its "others": the segments farther along the route
// that come within kOthersM of it (the other leg of an out-and-back, the next pass of a loop;
// up to kMaxOthers, listed in Hot::others from others_begin). Every segment outside the
// neighbourhood is at least clearance_m (plane metres, rounded down, capped at kClearanceCapM)
// from segment i. So for a fix q at distance d from segment i, every segment outside the
// neighbourhood is at least clearance_m - d from q (triangle inequality): if clearance_m >
// 2 d + margin, none of them can be the nearest or within the margin of it, and the
// neighbourhood alone decides the answer.
struct Reach {
  float clearance_m;
  std::uint16_t back;
  std::uint16_t fwd;
  std::uint32_t others_begin;
  std::uint32_t others_count;
};
static_assert(sizeof(Reach) == 16);

}  // namespace corridor_internal

namespace {

using corridor_internal::Reach;
using corridor_internal::SegmentRec;

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;
using Point = bg::model::point<double, 2, bg::cs::cartesian>;
using Segment = bg::model::segment<Point>;
using Box = bg::model::box<Point>;
using Entry = std::pair<Segment, std::uint32_t>;
using RTree = bgi::rtree<Entry, bgi::rstar<16, 4>>;

// GridProjection margin: fixes up to this far outside the route's bounding box are mapped fast.
constexpr double kGridMarginM = 5'000.0;
// Candidate cells cover fixes up to this far from the centre-line; farther fixes (a vehicle far
// off its route) are answered from the R-tree directly, correct but a few microseconds slower.
constexpr double kCoverageM = 2'000.0;
constexpr std::size_t kMaxCells = std::size_t{1} << 19;
// Longest candidate list gathered for a cell before it is left to the R-tree (see BuildCells).
constexpr std::size_t kMaxCellCandidates = 256;
constexpr double kInterpolateNearestUpToM = 1'000.0;
// Leg choice with a previous progress (see Choose).
constexpr double kGnssSigmaM = 20.0;
constexpr double kProgressScaleM = 500.0;
// Hinted queries (see Reach): a segment's neighbourhood is the segments less than kWindowM
// along the route before and after it, at most kMaxSide on each side; clearances are computed
// up to kClearanceCapM. A hinted query evaluates at most kMaxHintRange segments.
constexpr double kWindowM = 120.0;
constexpr std::uint32_t kMaxSide = 16;
constexpr double kClearanceCapM = 400.0;
constexpr double kOthersM = 150.0;
constexpr std::uint32_t kMaxOthers = 24;
constexpr std::size_t kMaxHintRange = 96;
// Segments outside the window within a box query's reach beyond which BuildReach takes the
// k-nearest query instead (see there).
constexpr std::size_t kMaxBoxNeighbours = 64;
// Rounding slack on the clearance bound and on candidate sets built from it (metres; plane
// distances here are exact to ~1e-9 m, the stored clearance is rounded down by 1 cm).
constexpr double kBoundSlackM = 0.01;

double GeodesicDistance(LonLat a, LonLat b) {
  double s12 = 0.0;
  LoadedProj().geodesic_inverse(&Wgs84Geodesic(), a.lat_deg(), a.lon_deg(), b.lat_deg(),
                                b.lon_deg(), &s12, nullptr, nullptr);
  return s12;
}

// A grid cell's candidate segments, built on the cell's first lookup (see Corridor::Impl):
// `state` is kUnbuilt, kBuilding (one thread is building it), or the number of candidates,
// published with release ordering after the items. Up to kInline candidates are stored in
// place, longer lists in the corridor's list arena (their address in items[1..2]).
struct alignas(16) CellRec {
  static constexpr std::uint32_t kInline = 3;
  static constexpr std::uint32_t kUnbuilt = 0xffff'ffff;
  static constexpr std::uint32_t kBuilding = 0xffff'fffe;
  std::atomic<std::uint32_t> state{kUnbuilt};
  std::uint32_t items[kInline] = {};

  const std::uint32_t* list() const {
    const std::uint32_t* p = nullptr;
    std::memcpy(&p, &items[1], sizeof(p));
    return p;
  }
  void set_list(const std::uint32_t* p) { std::memcpy(&items[1], &p, sizeof(p)); }
};
static_assert(sizeof(CellRec) == 16);
static_assert(sizeof(const std::uint32_t*) <= 2 * sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

struct Candidate {
  std::uint32_t segment;
  double distance2;  // squared plane distance
  double t;          // position along the segment, [0, 1]
};

// The per-segment arrays by raw pointer, and everything a query computes from them alone: the
// hinted path builds one from Corridor::Hot without touching Impl.
struct SegmentView {
  const SegmentRec* seg = nullptr;
  const Reach* rch = nullptr;
  std::size_t n = 0;
  const std::uint32_t* others = nullptr;

  Candidate Evaluate(std::uint32_t i, XY q) const {
    const SegmentRec& s = seg[i];
    double t = ((q.x_m - s.ax) * s.dx + (q.y_m - s.ay) * s.dy) * s.inv_len2;
    t = std::clamp(t, 0.0, 1.0);
    const double ex = s.ax + t * s.dx - q.x_m, ey = s.ay + t * s.dy - q.y_m;
    return Candidate{i, ex * ex + ey * ey, t};
  }

  double Progress(const Candidate& c) const {
    const SegmentRec& s = seg[c.segment];
    return s.cum_m + c.t * s.len_m;
  }

  // Picks from `fn`-enumerated candidates: nearest, or (with a previous progress) the one
  // closest in progress among those within Corridor::kAmbiguityMargin_m of the nearest.
  // Whether c is a local minimum of the distance along the route, i.e. the closest point of a
  // leg, not the end of a segment whose neighbour on the same leg comes closer. Only such
  // points are alternatives to the nearest: otherwise the end of the previous segment of the
  // same straight road would "win" on progress.
  bool IsLocalMinimum(const Candidate& c, XY q) const {
    if (c.t <= 0.0 && c.segment > 0 && Evaluate(c.segment - 1, q).distance2 < c.distance2) {
      return false;
    }
    if (c.t >= 1.0 && c.segment + 1 < n && Evaluate(c.segment + 1, q).distance2 < c.distance2) {
      return false;
    }
    return true;
  }

  // The answer depends only on the set of candidates within the margin of the nearest (and
  // their neighbours, read directly), never on the enumeration order or on farther candidates:
  // grid cell, R-tree and hinted neighbourhood enumerate different supersets of that set and
  // must agree exactly.
  template <typename ForEach>
  Candidate Choose(ForEach&& for_each, XY q, std::optional<double> previous_progress_m) const {
    // Distances within 1 mm of the nearest are a tie (coinciding legs differ by float
    // rounding): the lowest segment (lower progress) wins, so that without history the first
    // pass of a road is reported.
    double min_d2 = std::numeric_limits<double>::infinity();
    for_each([&](const Candidate& c) { min_d2 = std::min(min_d2, c.distance2); });
    const double tie_d2 = min_d2 + 2e-3 * std::sqrt(min_d2) + 1e-6;  // (d + 1 mm)^2, about
    Candidate best{std::numeric_limits<std::uint32_t>::max(),
                   std::numeric_limits<double>::infinity(), 0.0};
    for_each([&](const Candidate& c) {
      if (c.distance2 <= tie_d2 && c.segment < best.segment) best = c;
    });
    if (!previous_progress_m.has_value() || !std::isfinite(*previous_progress_m)) return best;
    const double limit = std::sqrt(best.distance2) + Corridor::kAmbiguityMargin_m;
    const double limit2 = limit * limit;
    // Like one step of an HMM map matcher (OSRM, barefoot): the cost of a leg adds how much
    // less likely its distance is than the nearest one's (Gaussian error, sigma 20 m: GNSS plus
    // the offset of the route line from the lane) to how far it would move progress (exponential,
    // 500 m scale). Vehicles move forward along
    // their route, so a step back counts double: at the turning point of an out-and-back, where
    // both legs are equally near, the return leg wins.
    const double previous = *previous_progress_m;
    const double best_d2 = best.distance2;
    auto cost_of = [&](const Candidate& c) {
      const double p = Progress(c);
      const double gap = p >= previous ? p - previous : 2.0 * (previous - p);
      return (c.distance2 - best_d2) / (2.0 * kGnssSigmaM * kGnssSigmaM) + gap / kProgressScaleM;
    };
    Candidate chosen = best;
    double chosen_cost = cost_of(best);
    for_each([&](const Candidate& c) {
      if (c.distance2 > limit2 || !IsLocalMinimum(c, q)) return;
      const double cost = cost_of(c);
      // Equal cost: the nearest stays, else the lowest segment (order-independent).
      if (cost < chosen_cost ||
          (cost == chosen_cost && chosen.segment != best.segment && c.segment < chosen.segment)) {
        chosen = c;
        chosen_cost = cost;
      }
    });
    return chosen;
  }

  // The hinted query: the neighbourhood of the hint segment, grown until it holds the
  // neighbourhood of the nearest segment found in it; answers (true) only when that nearest
  // segment's clearance proves nothing outside can be the nearest or within the margin of it.
  // The evaluated set is up to kMaxRanges ranges along the route (a window per leg: an
  // out-and-back's nearest segment may be on the other leg) plus `extra` (others outside them).
  bool FindNear(XY q, std::optional<double> previous_progress_m, std::uint32_t hint,
                Candidate& out) const {
    constexpr std::size_t kMaxRanges = 4;
    std::array<std::pair<std::size_t, std::size_t>, kMaxRanges> ranges;  // [lo, hi]
    std::size_t range_count = 0;
    std::array<std::uint32_t, 2 * kMaxOthers> extra;
    std::size_t extras = 0;
    auto in_ranges = [&](std::size_t s) {
      for (std::size_t k = 0; k < range_count; ++k) {
        if (s >= ranges[k].first && s <= ranges[k].second) return true;
      }
      return false;
    };
    auto in_set = [&](std::uint32_t s) {
      if (in_ranges(s)) return true;
      for (std::size_t k = 0; k < extras; ++k) {
        if (extra[k] == s) return true;
      }
      return false;
    };
    // Adds segment i's window along the route (merged with an overlapping range) and its others;
    // false when they do not fit.
    auto add = [&](std::uint32_t i) {
      std::size_t lo = i - rch[i].back, hi = i + rch[i].fwd;
      std::size_t k = 0;
      while (k < range_count) {
        if (lo <= ranges[k].second + 1 && ranges[k].first <= hi + 1) {  // overlaps or touches
          lo = std::min(lo, ranges[k].first);
          hi = std::max(hi, ranges[k].second);
          ranges[k] = ranges[--range_count];
          k = 0;
        } else {
          ++k;
        }
      }
      if (range_count == kMaxRanges) return false;
      ranges[range_count++] = {lo, hi};
      const Reach& r = rch[i];
      for (std::uint32_t m = 0; m < r.others_count; ++m) {
        const std::uint32_t o = others[r.others_begin + m];
        if (in_set(o)) continue;
        if (extras == extra.size()) return false;
        __builtin_prefetch(&seg[o]);  // scattered along the route: start the misses together
        extra[extras++] = o;
      }
      return true;
    };
    // Whether segment i's whole neighbourhood is in the set.
    auto covered = [&](std::uint32_t i) {
      const Reach& r = rch[i];
      const std::size_t lo = i - r.back, hi = i + r.fwd;
      bool inside = false;
      for (std::size_t k = 0; k < range_count && !inside; ++k) {
        inside = lo >= ranges[k].first && hi <= ranges[k].second;
      }
      for (std::uint32_t m = 0; inside && m < r.others_count; ++m) {
        inside = in_set(others[r.others_begin + m]);
      }
      return inside;
    };
    if (!add(hint)) return false;
    std::array<Candidate, kMaxHintRange> buf;
    std::size_t count = 0, nearest = 0;
    for (int round = 0;; ++round) {
      std::size_t total = extras;
      for (std::size_t k = 0; k < range_count; ++k) {
        total += ranges[k].second - ranges[k].first + 1;
      }
      if (round == 3 || total > kMaxHintRange) return false;
      count = 0;
      double min_d2 = std::numeric_limits<double>::infinity();
      auto evaluate = [&](std::uint32_t s) {
        const SegmentRec& rec = seg[s];
        if (rec.dx == 0.0f && rec.dy == 0.0f) return;  // not indexed: never a candidate
        buf[count] = Evaluate(s, q);
        if (buf[count].distance2 < min_d2) {
          min_d2 = buf[count].distance2;
          nearest = count;
        }
        ++count;
      };
      for (std::size_t k = 0; k < range_count; ++k) {
        for (std::size_t s = ranges[k].first; s <= ranges[k].second; ++s) {
          evaluate(static_cast<std::uint32_t>(s));
        }
      }
      for (std::size_t k = 0; k < extras; ++k) {
        if (!in_ranges(extra[k])) evaluate(extra[k]);  // the ranges may have grown over it
      }
      if (count == 0) return false;
      const std::uint32_t i = buf[nearest].segment;
      if (covered(i)) break;
      if (!add(i)) return false;
    }
    const bool with_history =
        previous_progress_m.has_value() && std::isfinite(*previous_progress_m);
    const double needed = 2.0 * std::sqrt(buf[nearest].distance2) +
                          (with_history ? Corridor::kAmbiguityMargin_m : 0.0) + kBoundSlackM;
    if (!(static_cast<double>(rch[buf[nearest].segment].clearance_m) > needed)) return false;
    out = Choose(
        [&](auto&& fn) {
          for (std::size_t k = 0; k < count; ++k) fn(buf[k]);
        },
        q, previous_progress_m);
    return true;
  }

  // The match for the chosen candidate (scale factor from the projection frame, so that hinted
  // and unhinted queries share every operation).
  Corridor::Match MatchOf(const GridProjection& proj, const GridProjection::Frame& frame, XY q,
                          const Candidate& best) const {
    const SegmentRec& s = seg[best.segment];
    const XY on{s.ax + best.t * s.dx, s.ay + best.t * s.dy};
    const double k = GridProjection::ScaleFactor(frame, (on.x_m + q.x_m) / 2.0);
    // The nearest point as lon/lat: interpolating the vertices' lon/lat is off the projected
    // segment by ~L^2 tan(lat) / (8 R), under 2 cm * tan(lat) for L <= 1 km; longer segments
    // refine it by Newton iteration on the grid.
    LonLat nearest =
        internal::LonLatAccess::Normalised(s.lon_a + best.t * s.dlon, s.lat_a + best.t * s.dlat);
    if (static_cast<double>(s.dx) * s.dx + static_cast<double>(s.dy) * s.dy >
        kInterpolateNearestUpToM * kInterpolateNearestUpToM) {
      nearest = proj.Inverse(on, nearest);
    }
    return Corridor::Match{std::sqrt(best.distance2) / k, best.segment, Progress(best), nearest};
  }
};

}  // namespace

// Query structure. The R-tree holds the projected segments. On top of it, a uniform grid of
// square cells over the route's neighbourhood stores, per cell, every segment that can be the
// nearest one (or within Corridor::kAmbiguityMargin_m of the nearest) for some point of the cell:
// with c the cell centre, h its half-diagonal and d(c) the distance from c to the route, any point
// q of the cell has d(q) <= d(c) + h, so only segments within d(c) + h + margin of the cell's box
// qualify. A query is then one cell lookup and a handful of point-segment distances, whatever
// the route's length; the R-tree answers the rare fixes outside the grid.
//
// A cell's list is built on its first lookup, not by Create: building every cell of a long
// route (thousands, each an R-tree nearest and box query plus the sub-cell refinement) was most
// of a plan's compile time, and most cells are never looked up (a vehicle's hinted queries are
// answered around its previous match, and it drives through a thin band of the grid). The first
// lookup claims the cell (kUnbuilt -> kBuilding), builds its list and publishes it (release);
// later lookups read it after one acquire load (a plain load on x86). A lookup that finds the
// cell being built by another thread does not wait: it answers from the R-tree, which gives the
// same answer (see Choose). A list depends only on the route and the cell, never on the order in
// which cells are built, so answers do not depend on which fixes came first (or on a restart).
struct alignas(64) Corridor::Impl : SegmentView {
  explicit Impl(GridProjection p) : proj(std::move(p)) {}

  // What a hinted query reads, first (one cache line).
  GridProjection proj;
  std::vector<SegmentRec> segments;         // one per vertex pair (zero-length ones too)
  std::vector<Reach> reach;                 // one per segment
  std::vector<std::uint32_t> others_store;  // Reach::others lists

  double cell_m = 1.0, inv_cell_m = 1.0, x0 = 0.0, y0 = 0.0;
  std::size_t nx = 0, ny = 0;
  std::unique_ptr<CellRec[]> cells;  // nx * ny, row-major, each built on first lookup

  // Storage of the lists longer than CellRec::kInline: chunks that never move (a published
  // list's address stays valid), appended to under arena_mu by the thread building a cell.
  static constexpr std::size_t kArenaChunk = 4096;
  static_assert(kArenaChunk >= kMaxCellCandidates);
  mutable std::mutex arena_mu;
  mutable std::vector<std::unique_ptr<std::uint32_t[]>> arena;
  mutable std::size_t arena_used = kArenaChunk;  // in the last chunk
  mutable std::atomic<std::size_t> cells_built{0};

  std::vector<LonLat> vertices;
  std::vector<double> cum_m;  // geodesic progress at each vertex (PointAt)
  RTree index;

  // Index of q's cell, or nx * ny outside the grid.
  std::size_t CellIndex(XY q) const {
    const double u = (q.x_m - x0) * inv_cell_m, v = (q.y_m - y0) * inv_cell_m;
    if (!(u >= 0.0 && v >= 0.0 && u < static_cast<double>(nx) && v < static_cast<double>(ny))) {
      return nx * ny;
    }
    return static_cast<std::size_t>(v) * nx + static_cast<std::size_t>(u);
  }

  // The candidate list of cell k (built now if it never was), or an empty span when the cell
  // leaves its queries to the R-tree: farther than kCoverageM from the route, too dense, or
  // being built by another thread right now.
  std::span<const std::uint32_t> CandidatesOf(std::size_t k) const {
    const CellRec& c = cells[k];
    std::uint32_t count = c.state.load(std::memory_order_acquire);
    if (count == CellRec::kUnbuilt) count = BuildCell(k);
    if (count == CellRec::kBuilding) return {};
    if (count <= CellRec::kInline) return std::span<const std::uint32_t>(c.items, count);
    return std::span<const std::uint32_t>(c.list(), count);
  }

  Candidate Find(XY q, std::optional<double> previous_progress_m) const {
    const std::size_t k = CellIndex(q);
    const std::span<const std::uint32_t> cell =
        k < nx * ny ? CandidatesOf(k) : std::span<const std::uint32_t>();
    if (!cell.empty()) {
      // Start every candidate's cache line loading at once: on long routes with scattered
      // queries these misses dominate, and issued together they overlap.
      for (std::uint32_t s : cell) __builtin_prefetch(&segments[s]);
      return Choose(
          [&](auto&& fn) {
            for (std::uint32_t s : cell) fn(Evaluate(s, q));
          },
          q, previous_progress_m);
    }
    return FindWithRTree(q, previous_progress_m);
  }

  // Neighbourhoods and clearances (see Reach), from the R-tree. All the answer depends on is the
  // nearest kMaxOthers + 1 segments outside the window along the route, and only within
  // kClearanceCapM: the others (all within kOthersM, at most kMaxOthers) and the clearance (the
  // nearest outside segment that is not an other, capped). Usually a box query around the
  // segment (grown by the cap) finds the few segments that can matter; where the route is folded
  // onto itself the box holds most of the route (quadratic over the route), so beyond
  // kMaxBoxNeighbours the segment's nearest few are found by an incremental k-nearest query
  // instead, which yields the same others and clearance: the k nearest overall hold the nearest
  // kMaxOthers + 1 outside the window.
  void BuildReach() {
    reach.assign(n, Reach{0.0f, 0, 0, 0, 0});
    std::vector<std::pair<double, std::uint32_t>> outside;  // (distance, segment)
    std::vector<const Entry*> in_box;
    for (std::size_t i = 0; i < n; ++i) {
      Reach& r = reach[i];
      std::uint32_t back = 0, fwd = 0;
      // Segment i - back - 1 is in when the route between its end and i's start is short.
      while (back < kMaxSide && back < i && cum_m[i] - cum_m[i - back] < kWindowM) ++back;
      while (fwd < kMaxSide && i + fwd + 1 < n && cum_m[i + 1 + fwd] - cum_m[i + 1] < kWindowM) {
        ++fwd;
      }
      r.back = static_cast<std::uint16_t>(back);
      r.fwd = static_cast<std::uint16_t>(fwd);
      r.others_begin = static_cast<std::uint32_t>(others_store.size());
      const SegmentRec& s = segments[i];
      if (s.dx == 0.0f && s.dy == 0.0f) continue;  // clearance 0: never trusted
      const Segment line(Point(s.ax, s.ay), Point(s.ax + s.dx, s.ay + s.dy));
      auto in_window = [&](std::uint32_t e) { return e + back >= i && e <= i + fwd; };
      outside.clear();
      in_box.clear();
      const double grow = kClearanceCapM + kBoundSlackM;
      const Box box(Point(std::min(s.ax, s.ax + s.dx) - grow, std::min(s.ay, s.ay + s.dy) - grow),
                    Point(std::max(s.ax, s.ax + s.dx) + grow, std::max(s.ay, s.ay + s.dy) + grow));
      bool crowded = false;
      for (auto it = index.qbegin(bgi::intersects(box)); it != index.qend(); ++it) {
        if (in_window(it->second)) continue;
        if (in_box.size() == kMaxBoxNeighbours) {
          crowded = true;
          break;
        }
        in_box.push_back(&*it);
      }
      if (!crowded) {
        for (const Entry* e : in_box) outside.emplace_back(bg::distance(line, e->first), e->second);
      } else {
        const unsigned k = back + fwd + 1 + kMaxOthers + 1;
        index.query(bgi::nearest(line, k),
                    boost::make_function_output_iterator([&](const Entry& e) {
                      if (in_window(e.second)) return;
                      outside.emplace_back(bg::distance(line, e.first), e.second);
                    }));
      }
      std::sort(outside.begin(), outside.end());
      // The others: those within kOthersM (all of them or none, so the clearance stays large).
      std::size_t others_n = 0;
      while (others_n < outside.size() && outside[others_n].first <= kOthersM) ++others_n;
      if (others_n > kMaxOthers) others_n = 0;
      for (std::size_t m = 0; m < others_n; ++m) others_store.push_back(outside[m].second);
      r.others_count = static_cast<std::uint32_t>(others_n);
      const double clearance = others_n < outside.size()
                                   ? std::min(kClearanceCapM, outside[others_n].first)
                                   : kClearanceCapM;
      r.clearance_m = static_cast<float>(std::max(0.0, clearance - kBoundSlackM));
    }
  }

  // Outside the grid: nearest by the R-tree, then (with a previous progress) every segment
  // within the ambiguity margin of it.
  Candidate FindWithRTree(XY q, std::optional<double> previous_progress_m) const {
    Candidate nearest{0, std::numeric_limits<double>::infinity(), 0.0};
    index.query(bgi::nearest(Point(q.x_m, q.y_m), 1),
                boost::make_function_output_iterator([&](const Entry& e) {
                  const Candidate c = Evaluate(e.second, q);
                  if (c.distance2 < nearest.distance2) nearest = c;
                }));
    // Then every segment that could tie with it, or (with history) be chosen over it.
    const double r = std::sqrt(nearest.distance2) +
                     (previous_progress_m ? Corridor::kAmbiguityMargin_m : 0.0) + kBoundSlackM;
    const Box box(Point(q.x_m - r, q.y_m - r), Point(q.x_m + r, q.y_m + r));
    std::vector<std::uint32_t> near;
    index.query(bgi::intersects(box), boost::make_function_output_iterator(
                                          [&](const Entry& e) { near.push_back(e.second); }));
    return Choose(
        [&](auto&& fn) {
          for (std::uint32_t s : near) fn(Evaluate(s, q));
        },
        q, previous_progress_m);
  }

  // Narrows a cell's candidate list (every segment within d_centre + half-diagonal + margin of
  // the cell) on a kSub x kSub grid of sub-cells: for a point q of sub-cell S (centre c, half-
  // diagonal h, d(c) its distance to the route, exact because the list holds the nearest
  // segment of every point of the cell), d(q) <= d(c) + h, so a segment that can be the
  // nearest or within the margin of it for q is within d(c) + 2h + margin of c. Segments that
  // are not, for any sub-cell, are dropped: the list stays exact, about half as long.
  void Refine(const Box& cell, std::vector<std::uint32_t>& near) const {
    constexpr int kSub = 4;
    const double sub = cell_m / kSub;
    const double reach_extra =
        2.0 * sub * std::sqrt(0.5) + Corridor::kAmbiguityMargin_m + kBoundSlackM;
    std::array<XY, kSub * kSub> centre;
    std::array<double, kSub * kSub> limit;
    for (int v = 0; v < kSub; ++v) {
      for (int u = 0; u < kSub; ++u) {
        const XY c{cell.min_corner().get<0>() + (u + 0.5) * sub,
                   cell.min_corner().get<1>() + (v + 0.5) * sub};
        double d2 = std::numeric_limits<double>::infinity();
        for (std::uint32_t s : near) d2 = std::min(d2, Evaluate(s, c).distance2);
        centre[v * kSub + u] = c;
        limit[v * kSub + u] = (std::sqrt(d2) + reach_extra) * (std::sqrt(d2) + reach_extra);
      }
    }
    std::erase_if(near, [&](std::uint32_t s) {
      for (int k = 0; k < kSub * kSub; ++k) {
        if (Evaluate(s, centre[k]).distance2 <= limit[k]) return false;
      }
      return true;
    });
  }

  // The grid's geometry; the cells themselves are built on first lookup (BuildCell).
  void SetUpGrid() {
    double min_x = std::numeric_limits<double>::infinity(), min_y = min_x;
    double max_x = -min_x, max_y = -min_x;
    std::vector<double> lengths;
    lengths.reserve(segments.size());
    for (const SegmentRec& s : segments) {
      min_x = std::min({min_x, s.ax, s.ax + s.dx});
      max_x = std::max({max_x, s.ax, s.ax + s.dx});
      min_y = std::min({min_y, s.ay, s.ay + s.dy});
      max_y = std::max({max_y, s.ay, s.ay + s.dy});
      lengths.push_back(std::hypot(s.dx, s.dy));
    }
    // Cells about twice the typical segment length keep lists short (a few segments per pass of
    // the route); the cap bounds memory (16 bytes per cell plus the lists) for huge routes.
    std::nth_element(lengths.begin(), lengths.begin() + lengths.size() / 2, lengths.end());
    cell_m = std::clamp(2.0 * lengths[lengths.size() / 2], 50.0, 1000.0);
    x0 = min_x - kCoverageM;
    y0 = min_y - kCoverageM;
    const double w = max_x - min_x + 2 * kCoverageM, h = max_y - min_y + 2 * kCoverageM;
    if (w * h / (cell_m * cell_m) > static_cast<double>(kMaxCells)) {
      cell_m = std::sqrt(w * h / static_cast<double>(kMaxCells));
    }
    inv_cell_m = 1.0 / cell_m;
    nx = static_cast<std::size_t>(std::ceil(w / cell_m));
    ny = static_cast<std::size_t>(std::ceil(h / cell_m));
    cells = std::make_unique<CellRec[]>(nx * ny);
  }

  // Builds cell k's list unless another thread claimed it first; returns the cell's state.
  std::uint32_t BuildCell(std::size_t k) const {
    CellRec& rec = cells[k];
    std::uint32_t expected = CellRec::kUnbuilt;
    if (!rec.state.compare_exchange_strong(expected, CellRec::kBuilding,
                                           std::memory_order_acq_rel)) {
      return expected;  // built or being built meanwhile
    }
    // Reused between calls: a first lookup should not cost an allocation.
    thread_local std::vector<std::uint32_t> near;
    const std::uint32_t count =
        CellList(k % nx, k / nx, near) ? static_cast<std::uint32_t>(near.size()) : 0;
    if (count <= CellRec::kInline) {
      std::copy(near.begin(), near.begin() + count, rec.items);
    } else {
      rec.set_list(Store(near));
    }
    cells_built.fetch_add(1, std::memory_order_relaxed);
    rec.state.store(count, std::memory_order_release);
    return count;
  }

  // Cell (i, j)'s candidates in `near` (sorted); false when its queries go to the R-tree: its
  // centre is farther than kCoverageM from the route, or the route passes it hundreds of times.
  bool CellList(std::size_t i, std::size_t j, std::vector<std::uint32_t>& near) const {
    near.clear();
    const Box cell(Point(x0 + i * cell_m, y0 + j * cell_m),
                   Point(x0 + (i + 1) * cell_m, y0 + (j + 1) * cell_m));
    const XY centre{x0 + (i + 0.5) * cell_m, y0 + (j + 0.5) * cell_m};
    double d_centre = std::numeric_limits<double>::infinity();
    index.query(bgi::nearest(Point(centre.x_m, centre.y_m), 1),
                boost::make_function_output_iterator([&](const Entry& e) {
                  d_centre = std::sqrt(Evaluate(e.second, centre).distance2);
                }));
    if (!(d_centre <= kCoverageM)) return false;
    const double half_diagonal = cell_m * std::sqrt(0.5);
    const double extent = d_centre + half_diagonal + Corridor::kAmbiguityMargin_m + kBoundSlackM;
    const Box grown(
        Point(cell.min_corner().get<0>() - extent, cell.min_corner().get<1>() - extent),
        Point(cell.max_corner().get<0>() + extent, cell.max_corner().get<1>() + extent));
    for (auto it = index.qbegin(bgi::intersects(grown)); it != index.qend(); ++it) {
      if (bg::comparable_distance(it->first, cell) > extent * extent) continue;
      // Where the route passes this cell hundreds of times (a zig-zag, a route driven back
      // and forth), a list would cost memory and build time in proportion to the route:
      // leave the cell empty, so that its queries take the R-tree path (same answer).
      if (near.size() == kMaxCellCandidates) return false;
      near.push_back(it->second);
    }
    Refine(cell, near);
    std::sort(near.begin(), near.end());
    return !near.empty();
  }

  std::size_t arena_bytes() const {
    std::lock_guard<std::mutex> lock(arena_mu);
    return arena.size() * kArenaChunk * sizeof(std::uint32_t);
  }

  // A copy of `list` in the arena (whose chunks never move).
  const std::uint32_t* Store(const std::vector<std::uint32_t>& list) const {
    std::lock_guard<std::mutex> lock(arena_mu);
    if (arena_used + list.size() > kArenaChunk) {
      arena.push_back(std::make_unique_for_overwrite<std::uint32_t[]>(kArenaChunk));
      arena_used = 0;
    }
    std::uint32_t* out = arena.back().get() + arena_used;
    std::copy(list.begin(), list.end(), out);
    arena_used += list.size();
    return out;
  }
};

Corridor::Corridor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  hot_.projection = impl_->proj.frame();
  hot_.segments = impl_->seg;
  hot_.reach = impl_->rch;
  hot_.segment_count = impl_->n;
  hot_.others = impl_->others;
}
Corridor::Corridor(Corridor&&) noexcept = default;
Corridor& Corridor::operator=(Corridor&&) noexcept = default;
Corridor::~Corridor() = default;

absl::StatusOr<Corridor> Corridor::Create(std::vector<LonLat> route) {
  std::size_t distinct = route.empty() ? 0 : 1;
  for (std::size_t i = 1; i < route.size(); ++i) {
    if (!(route[i] == route[i - 1])) ++distinct;
  }
  if (distinct < 2) {
    return absl::InvalidArgumentError("a route needs at least 2 distinct points, got " +
                                      std::to_string(route.size()) + " point(s) with " +
                                      std::to_string(distinct) + " distinct");
  }
  if (route.size() > (std::size_t{1} << 26)) {
    return absl::InvalidArgumentError("route has more than 2^26 points");
  }
  absl::StatusOr<GridProjection> proj = GridProjection::ForArea(route, kGridMarginM);
  if (!proj.ok()) {
    return absl::InvalidArgumentError("route cannot be projected: " +
                                      std::string(proj.status().message()));
  }
  auto impl = std::make_unique<Impl>(*std::move(proj));
  impl->vertices = std::move(route);
  const auto& v = impl->vertices;
  std::vector<XY> xy;
  xy.reserve(v.size());
  for (const LonLat& p : v) xy.push_back(impl->proj.ForwardExact(p));
  impl->cum_m.assign(v.size(), 0.0);
  impl->segments.resize(v.size() - 1);
  std::vector<Entry> entries;
  entries.reserve(v.size() - 1);
  for (std::size_t i = 0; i + 1 < v.size(); ++i) {
    const double len = GeodesicDistance(v[i], v[i + 1]);
    const float dx = static_cast<float>(xy[i + 1].x_m - xy[i].x_m);
    const float dy = static_cast<float>(xy[i + 1].y_m - xy[i].y_m);
    const double len2 = static_cast<double>(dx) * dx + static_cast<double>(dy) * dy;
    double dlon = v[i + 1].lon_deg() - v[i].lon_deg();
    if (dlon > 180.0) dlon -= 360.0;
    if (dlon < -180.0) dlon += 360.0;
    SegmentRec& rec = impl->segments[i];
    rec.ax = xy[i].x_m;
    rec.ay = xy[i].y_m;
    rec.cum_m = impl->cum_m[i];
    rec.lon_a = v[i].lon_deg();
    rec.lat_a = v[i].lat_deg();
    rec.dx = dx;
    rec.dy = dy;
    rec.inv_len2 = len2 > 0.0 ? static_cast<float>(1.0 / len2) : 0.0f;
    rec.len_m = static_cast<float>(len);
    rec.dlon = static_cast<float>(dlon);
    rec.dlat = static_cast<float>(v[i + 1].lat_deg() - v[i].lat_deg());
    impl->cum_m[i + 1] = impl->cum_m[i] + len;
    if (len2 == 0.0) continue;  // zero-length: never the unique nearest
    // The index holds exactly the segments queries evaluate (end = start + float offset).
    entries.emplace_back(Segment(Point(rec.ax, rec.ay), Point(rec.ax + dx, rec.ay + dy)),
                         static_cast<std::uint32_t>(i));
  }
  impl->index = RTree(entries.begin(), entries.end());  // packed (STR) bulk load
  impl->seg = impl->segments.data();
  impl->n = impl->segments.size();
  impl->SetUpGrid();
  impl->BuildReach();
  impl->rch = impl->reach.data();
  impl->others = impl->others_store.data();
  return Corridor(std::move(impl));
}

Corridor::Match Corridor::Locate(LonLat p, std::optional<double> previous_progress_m) const {
  const Impl& m = *impl_;
  const XY q = m.proj.Forward(p);
  return m.MatchOf(m.proj, hot_.projection, q, m.Find(q, previous_progress_m));
}

Corridor::Match Corridor::Locate(LonLat p, std::optional<double> previous_progress_m,
                                 Hint& hint) const {
  // Only hot_ (inline), the hint and the segments around it are read on the usual path; Impl's
  // own memory only when the neighbourhood cannot decide. impl_->proj is only addressed (it is
  // read for points outside the projection grid and for very long segments).
  const SegmentView view{hot_.segments, hot_.reach, hot_.segment_count, hot_.others};
  const GridProjection& proj = impl_->proj;
  const std::uint32_t h = hint.segment;
  const bool hinted = h < view.n;
  if (hinted) {
    // Start the likely misses together: the neighbourhood record and the segments around the
    // hint (the vehicle mostly moved less than one segment since its last fix).
    __builtin_prefetch(&view.rch[h]);
    __builtin_prefetch(&view.seg[h]);
    if (h + 1 < view.n) __builtin_prefetch(&view.seg[h + 1]);
    if (h > 0) __builtin_prefetch(&view.seg[h - 1]);
  }
  const XY q = proj.Forward(p, hot_.projection, hint.projection);
  Candidate best;
  if (hinted && view.FindNear(q, previous_progress_m, h, best)) {
    ++hint.hits;
  } else {
    best = impl_->Find(q, previous_progress_m);
    ++hint.misses;
  }
  hint.segment = best.segment;
  return view.MatchOf(proj, hot_.projection, q, best);
}

double Corridor::length_m() const { return impl_->cum_m.back(); }

LonLat Corridor::PointAt(double progress_m) const {
  const Impl& m = *impl_;
  if (!(progress_m > 0.0)) return m.vertices.front();  // also NaN
  if (progress_m >= m.cum_m.back()) return m.vertices.back();
  const auto it = std::upper_bound(m.cum_m.begin(), m.cum_m.end(), progress_m);
  const std::size_t i = static_cast<std::size_t>(it - m.cum_m.begin()) - 1;
  const LonLat& a = m.vertices[i];
  const LonLat& b = m.vertices[i + 1];
  double azi1 = 0.0, s12 = 0.0;
  LoadedProj().geodesic_inverse(&Wgs84Geodesic(), a.lat_deg(), a.lon_deg(), b.lat_deg(),
                                b.lon_deg(), &s12, &azi1, nullptr);
  double lat = 0.0, lon = 0.0;
  LoadedProj().geodesic_direct(&Wgs84Geodesic(), a.lat_deg(), a.lon_deg(), azi1,
                               progress_m - m.cum_m[i], &lat, &lon, nullptr);
  return internal::LonLatAccess::Normalised(lon, lat);
}

std::span<const LonLat> Corridor::vertices() const { return impl_->vertices; }

std::size_t Corridor::cells_built() const {
  return impl_->cells_built.load(std::memory_order_relaxed);
}
std::size_t Corridor::cell_count() const { return impl_->nx * impl_->ny; }

Corridor::Match Corridor::LocateByScanForTesting(LonLat p,
                                                 std::optional<double> previous_progress_m) const {
  const Impl& m = *impl_;
  const XY q = m.proj.Forward(p);
  const Candidate best = m.Choose(
      [&](auto&& fn) {
        for (std::uint32_t s = 0; s < m.n; ++s) {
          // Zero-length segments are not candidates on any path (not in the R-tree or grid).
          if (m.segments[s].dx == 0.0f && m.segments[s].dy == 0.0f) continue;
          fn(m.Evaluate(s, q));
        }
      },
      q, previous_progress_m);
  return m.MatchOf(m.proj, hot_.projection, q, best);
}

std::size_t Corridor::memory_bytes() const {
  const Impl& m = *impl_;
  // The R-tree: its entries plus about a quarter for nodes (packed, 16 per node).
  const std::size_t rtree = m.index.size() * sizeof(Entry) * 5 / 4;
  return sizeof(Impl) + m.proj.memory_bytes() + m.segments.capacity() * sizeof(SegmentRec) +
         m.reach.capacity() * sizeof(Reach) + m.others_store.capacity() * sizeof(std::uint32_t) +
         m.nx * m.ny * sizeof(CellRec) + m.arena_bytes() + m.vertices.capacity() * sizeof(LonLat) +
         m.cum_m.capacity() * sizeof(double) + rtree;
}

}  // namespace cit::geo
