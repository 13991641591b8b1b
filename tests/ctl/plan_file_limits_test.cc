// Plan files that would exhaust dispatchctl: nesting 100,000 levels deep in every format a plan
// or its route can be written in (issue 10, 4.1), and route files that never end (/dev/zero), are
// not files or are too large (4.9).
// Each must be a clear error from LoadPlanFile (what `dispatchctl plan create` calls).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "dispatchctl/plan_file.h"
#include "geo/input_limits.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

using ::testing::HasSubstr;

constexpr int kDeep = 100'000;

std::string Repeat(std::string_view s, int n) {
  std::string out;
  out.reserve(s.size() * n);
  for (int i = 0; i < n; ++i) out.append(s);
  return out;
}

class PlanFileLimitsTest : public ::testing::Test {
 protected:
  // Writes `text` to `name` in the temp dir and loads `plan_name` from there.
  std::filesystem::path Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  absl::Status Load(const std::string& plan_text, const std::string& plan_name = "plan.toml") {
    return LoadPlanFile(Write(plan_name, plan_text)).status();
  }
  static std::string TomlPlan(const std::string& route, const std::string& top = "") {
    return absl::StrCat("run_id = \"R-1\"\nvehicle_id = \"CIT-1\"\n", top, "\n[route]\n", route,
                        "\n");
  }

  cit::test::TempDir dir_;
};

// ---- 4.1: nesting ---------------------------------------------------------------------------

TEST_F(PlanFileLimitsTest, JsonPlanNested100000DeepIsRefused) {
  const absl::Status s = Load(absl::StrCat(R"({"run_id":"R-1","vehicle_id":"CIT-1","x":)",
                                           Repeat("[", kDeep), Repeat("]", kDeep), "}"),
                              "plan.json");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("nested more than 64 levels"));
  EXPECT_THAT(s.message(), HasSubstr("plan.json"));
}

TEST_F(PlanFileLimitsTest, TomlPlanWithDottedKey100000DeepIsRefused) {
  // toml++ bounds nested values, not dotted keys: this overflowed its parser's stack.
  std::string key = "a";
  for (int i = 0; i < kDeep; ++i) key += ".a";
  const absl::Status s = Load(TomlPlan("points = [[8.5, 47.3], [8.6, 47.3]]") + key + " = 1\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("TOML nested more than 64 levels"));
}

TEST_F(PlanFileLimitsTest, TomlPlanWithTableHeader100000DeepIsRefused) {
  std::string header = "[b";
  for (int i = 0; i < kDeep; ++i) header += ".b";
  const absl::Status s = Load(TomlPlan("points = [[8.5, 47.3], [8.6, 47.3]]") + header + "]\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("TOML nested more than 64 levels"));
}

TEST_F(PlanFileLimitsTest, TomlPlanWithInlineArrays100000DeepIsRefused) {
  const absl::Status s =
      Load(TomlPlan(absl::StrCat("points = ", Repeat("[", kDeep), Repeat("]", kDeep))));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("nested"));
}

TEST_F(PlanFileLimitsTest, GeoJsonRouteFileNested100000DeepIsRefused) {
  Write("route.geojson", absl::StrCat(R"({"type":"LineString","coordinates":[)", Repeat("[", kDeep),
                                      "1", Repeat("]", kDeep), ",[8.5,47.3]]}"));
  const absl::Status s = Load(TomlPlan("geojson_file = \"route.geojson\""));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("route.geojson: JSON nested more than 64 levels"));
  EXPECT_LT(s.message().size(), 1000u) << "the message must not echo the input";
}

TEST_F(PlanFileLimitsTest, InlineGeoJsonNested100000DeepIsRefused) {
  const std::string geojson =
      absl::StrCat(R"({"type":"LineString","coordinates":[)", Repeat("[", kDeep), "1",
                   Repeat("]", kDeep), ",[8.5,47.3]]}");
  const absl::Status s = Load(TomlPlan(absl::StrCat("geojson = '''", geojson, "'''")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("route.geojson: JSON nested more than 64 levels"));
}

TEST_F(PlanFileLimitsTest, GpxRouteFileNested100000DeepIsRefused) {
  Write("route.gpx",
        absl::StrCat(R"(<?xml version="1.0"?><gpx version="1.1"><trk><trkseg>)",
                     Repeat("<e>", kDeep), Repeat("</e>", kDeep), "</trkseg></trk></gpx>"));
  const absl::Status s = Load(TomlPlan("gpx_file = \"route.gpx\""));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("levels deep"));
}

TEST_F(PlanFileLimitsTest, NestingWithinTheLimitStillParses) {
  // 60 levels of GeoJSON properties and a 3-segment dotted key are fine.
  Write("route.geojson",
        absl::StrCat(
            R"({"type":"Feature","properties":)", Repeat(R"({"a":)", 60), "1", Repeat("}", 60),
            R"(,"geometry":{"type":"LineString","coordinates":[[8.5,47.3],[8.6,47.3]]}})"));
  auto plan = LoadPlanFile(Write(
      "plan.toml", TomlPlan("geojson_file = \"route.geojson\"", "limits.max_speed_mps = 20")));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->route().points_size(), 2);
  EXPECT_EQ(plan->limits().max_speed_mps(), 20);
}

// ---- 4.9: files that never end or are too large --------------------------------------------

TEST_F(PlanFileLimitsTest, RouteFileThatIsADeviceIsRefusedWithoutReadingIt) {
  // /dev/zero once grew dispatchctl to 3.85 GB in 4 s.
  for (const char* key : {"geojson_file", "gpx_file"}) {
    const absl::Status s = Load(TomlPlan(absl::StrCat(key, " = \"/dev/zero\"")));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_THAT(s.message(), HasSubstr("/dev/zero: not a regular file")) << key;
  }
}

TEST_F(PlanFileLimitsTest, PlanFileThatIsAFifoOrDirectoryIsRefused) {
  const std::filesystem::path fifo = dir_ / "plan.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto from_fifo = LoadPlanFile(fifo);  // would block forever waiting for a writer
  EXPECT_EQ(from_fifo.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(from_fifo.status().message(), HasSubstr("not a regular file"));
  auto from_dir = LoadPlanFile(dir_.path());
  EXPECT_EQ(from_dir.status().code(), absl::StatusCode::kInvalidArgument);
  auto missing = LoadPlanFile(dir_ / "missing.toml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PlanFileLimitsTest, RouteFileOverTheSizeLimitIsRefused) {
  const std::filesystem::path big = dir_ / "big.geojson";
  {
    std::ofstream out(big, std::ios::binary);
    out << R"({"type":"LineString","coordinates":[[8.5,47.3],[8.6,47.3]]})";
  }
  std::filesystem::resize_file(big, geo::kMaxInputFileBytes + 1);  // sparse: costs no disk
  const absl::Status s = Load(TomlPlan("geojson_file = \"big.geojson\""));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("larger than"));
}

TEST(TomlNestingDepthTest, CountsTablesArraysAndDottedKeysButNotStringsOrComments) {
  EXPECT_EQ(geo::TomlNestingDepth("a = 1\n"), 0u);
  EXPECT_EQ(geo::TomlNestingDepth("a.b.c = 1\n"), 3u);
  EXPECT_EQ(geo::TomlNestingDepth("x = [[1.5, 2.5], [3.5]]\n"), 4u);  // one dot per float
  EXPECT_EQ(geo::TomlNestingDepth("s = \"a.b.c.d.e[[[{{{\" # [[[[.....\n"), 0u);
  EXPECT_EQ(geo::TomlNestingDepth("s = '''\n[[[[\n'''\n"), 0u);
  EXPECT_EQ(geo::TomlNestingDepth("t = {a.b = {c = 1}}\n"), 4u);
  EXPECT_EQ(geo::JsonNestingDepth(R"({"a":[1,{"b":"[[[["}]})"), 3u);
}

}  // namespace
}  // namespace cit::ctl
