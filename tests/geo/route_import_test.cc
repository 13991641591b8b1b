// Route import: GeoJSON, GPX, encoded polylines. Every bad input gets an error naming the source,
// the element and the problem; nothing crashes.
#include "geo/route_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/test_env.h"

namespace cit::geo {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// ---- GeoJSON ------------------------------------------------------------------------------

TEST(GeoJsonImportTest, ReadsBareLineStringInLonLatOrder) {
  auto r = ImportGeoJsonRoute(
      R"({"type":"LineString","coordinates":[[11.5,48.1],[11.6,48.2],[11.7,48.25,520.0]]})",
      "a.geojson");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].lon_deg(), 11.5);
  EXPECT_EQ((*r)[0].lat_deg(), 48.1);
  EXPECT_EQ((*r)[2].lat_deg(), 48.25) << "altitude ignored";
}

TEST(GeoJsonImportTest, ReadsFeatureAndFeatureCollectionWithStopPoints) {
  auto f = ImportGeoJsonRoute(
      R"({"type":"Feature","properties":{"name":"run 17"},
          "geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}})",
      "f.geojson");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->size(), 2u);
  auto fc = ImportGeoJsonRoute(
      R"({"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"stop":"vault"},"geometry":{"type":"Point","coordinates":[1,2]}},
          {"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[1,2],[3,4],[5,6]]}},
          {"type":"Feature","properties":{},"geometry":null}]})",
      "fc.geojson");
  ASSERT_TRUE(fc.ok()) << fc.status();
  EXPECT_EQ(fc->size(), 3u);
  EXPECT_EQ((*fc)[2].lon_deg(), 5.0);
}

TEST(GeoJsonImportTest, AcceptsMultiLineStringHoldingOneLine) {
  auto r = ImportGeoJsonRoute(R"({"type":"MultiLineString","coordinates":[[[1,2],[3,4]]]})", "m");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), 2u);
}

TEST(GeoJsonImportTest, TruncatedJsonNamesSourceAndSaysTruncated) {
  auto r = ImportGeoJsonRoute(R"({"type":"LineString","coordinates":[[11.5,48.1],[11.6,4)",
                              "plans/run-17.geojson");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr("plans/run-17.geojson: coordinates[1][1]"), HasSubstr("truncated")));
}

TEST(GeoJsonImportTest, EmptyTextIsTruncatedJson) {
  auto r = ImportGeoJsonRoute("", "empty.geojson");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()), AllOf(HasSubstr("empty.geojson"), HasSubstr("truncated")));
}

TEST(GeoJsonImportTest, NaNLiteralNamesTheExactElement) {
  auto r = ImportGeoJsonRoute(
      R"({"type":"FeatureCollection","features":[{"type":"Feature","geometry":
          {"type":"LineString","coordinates":[[1,2],[3,4],[5,6],[7,8],[9,10],[11,12],[13,14],
          [15,16],[17,18],[19,20],[21,22],[23,24],[25,NaN]]}}]})",
      "nan.geojson");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr("nan.geojson: features[0].geometry.coordinates[12][1]"),
                    HasSubstr("'NaN' is not a JSON number")));
}

TEST(GeoJsonImportTest, NaNAsStringIsRejectedAsNotANumber) {
  auto r = ImportGeoJsonRoute(R"({"type":"LineString","coordinates":[[1,2],[3,"NaN"]]})", "s");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()), R"(s: coordinates[1][1]: expected a number, got a string "NaN")");
}

// Issue 10 4.1: the message once dumped the offending value whole (recursively: a 100,000-deep
// array overflowed the stack). Arrays and objects are named, long strings cut.
TEST(GeoJsonImportTest, ErrorMessagesNeverEchoStructuresOrLongStrings) {
  auto nested = ImportGeoJsonRoute(
      R"({"type":"LineString","coordinates":[[1,[[[[2,3,4,5,6,7,8,9]]]]],[3,4]]})", "n");
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(Message(nested.status()),
            "n: coordinates[0][1]: expected a number, got an array [...]");
  auto long_string = ImportGeoJsonRoute(absl::StrCat(R"({"type":"LineString","coordinates":[[1,")",
                                                     std::string(100'000, 'x'), R"("],[3,4]]})"),
                                        "l");
  ASSERT_FALSE(long_string.ok());
  EXPECT_LT(Message(long_string.status()).size(), 120u);
  EXPECT_THAT(Message(long_string.status()), HasSubstr(R"(got a string "xxxx)"));
}

TEST(GeoJsonImportTest, NestingBeyondTheLimitIsRefusedBeforeParsing) {
  const std::string deep =
      absl::StrCat(R"({"type":"LineString","coordinates":[)", std::string(100'000, '['), "1",
                   std::string(100'000, ']'), ",[3,4]]}");
  auto r = ImportGeoJsonRoute(deep, "d");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()), HasSubstr("d: JSON nested more than 64 levels deep"));
}

TEST(GeoJsonImportTest, OverflowingNumberIsRejected) {
  auto r = ImportGeoJsonRoute(R"({"type":"LineString","coordinates":[[1,2],[3,1e999]]})", "o");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()),
              AllOf(HasSubstr("o: coordinates[1][1]"), HasSubstr("number overflow")));
}

TEST(GeoJsonImportTest, Latitude91NamesElementAndRange) {
  std::string coords;
  for (int i = 0; i < 12; ++i) coords += "[34.8," + std::to_string(32 + i * 0.001) + "],";
  auto r =
      ImportGeoJsonRoute(R"({"type":"Feature","geometry":{"type":"LineString","coordinates":[)" +
                             coords + "[34.8,91]]}}",
                         "route.geojson");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()),
            "route.geojson: geometry.coordinates[12][1]: latitude 91 is outside [-90, 90]");
}

TEST(GeoJsonImportTest, LongitudeOutOfRangeNamesIndexZero) {
  auto r = ImportGeoJsonRoute(R"({"type":"LineString","coordinates":[[181,2],[3,4]]})", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()), "x: coordinates[0][0]: longitude 181 is outside [-180, 180]");
}

TEST(GeoJsonImportTest, EmptyLineIsRejected) {
  auto r = ImportGeoJsonRoute(R"({"type":"LineString","coordinates":[]})", "e.geojson");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()),
            "e.geojson: coordinates: line has 0 positions; a route needs at least 2");
}

TEST(GeoJsonImportTest, OnePointLineIsRejected) {
  auto r = ImportGeoJsonRoute(
      R"({"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2]]}})", "one");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()),
            "one: geometry.coordinates: line has 1 position; a route needs at least 2");
}

TEST(GeoJsonImportTest, WrongGeometryTypeIsNamed) {
  auto r = ImportGeoJsonRoute(
      R"({"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1,2],[3,4],[5,6],[1,2]]]}})",
      "p.geojson");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      Message(r.status()),
      R"(p.geojson: geometry.type: geometry type is "Polygon"; a route must be a LineString)");
  auto point = ImportGeoJsonRoute(R"({"type":"Point","coordinates":[1,2]})", "pt");
  ASSERT_FALSE(point.ok());
  EXPECT_THAT(Message(point.status()), HasSubstr(R"(type: is "Point")"));
}

TEST(GeoJsonImportTest, FeatureCollectionWithoutAnyLineListsWhatItFound) {
  auto r = ImportGeoJsonRoute(
      R"({"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[]}}]})",
      "fc");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()), AllOf(HasSubstr("fc: features: no LineString feature"),
                                         HasSubstr(R"(features[1].geometry.type "Polygon")")));
}

TEST(GeoJsonImportTest, FeatureCollectionWithTwoLinesIsAmbiguous) {
  auto r = ImportGeoJsonRoute(
      R"({"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}},
          {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}},
          {"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}}]})",
      "two");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()),
            "two: features: expected exactly one LineString feature, found 2: features[0], "
            "features[2]");
}

TEST(GeoJsonImportTest, StructuralErrorsNameTheElement) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {R"([1,2])", "j: top level: expected a GeoJSON object, got an array"},
           {R"({"coordinates":[]})", "j: type: missing"},
           {R"({"type":5})", "j: type: expected a string, got a number"},
           {R"({"type":"LineString"})", "j: coordinates: missing"},
           {R"({"type":"LineString","coordinates":{"a":1}})",
            "j: coordinates: expected an array of positions, got an object"},
           {R"({"type":"LineString","coordinates":[[1,2],3]})",
            "j: coordinates[1]: expected a position [lon, lat], got a number"},
           {R"({"type":"LineString","coordinates":[[1,2],[3]]})",
            "j: coordinates[1]: expected [lon, lat] or [lon, lat, alt], got 1 element"},
           {R"({"type":"Feature","geometry":null})", "j: geometry: is null; expected a LineString"},
           {R"({"type":"FeatureCollection","features":{}})",
            "j: features: expected an array, got an object"},
           {R"({"type":"FeatureCollection","features":[{"type":"Point"}]})",
            R"(j: features[0].type: is "Point", expected "Feature")"},
       }) {
    auto r = ImportGeoJsonRoute(c.text, "j");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(Message(r.status()), c.message) << c.text;
  }
}

// ---- GPX ----------------------------------------------------------------------------------

constexpr const char* kGpxRoute = R"(<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <metadata><name>run 17</name></metadata>
  <rte><name>morning</name>
    <rtept lat="48.1372" lon="11.5754"><name>depot</name></rtept>
    <rtept lat="48.1400" lon="11.5800"/>
    <rtept lat=" 48.1450 " lon="11.5900"></rtept>
  </rte>
</gpx>)";

TEST(GpxImportTest, ReadsRoutePoints) {
  auto r = ImportGpxRoute(kGpxRoute, "run.gpx");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].lat_deg(), 48.1372);
  EXPECT_EQ((*r)[0].lon_deg(), 11.5754);
  EXPECT_EQ((*r)[2].lat_deg(), 48.145);
}

TEST(GpxImportTest, ReadsTrackAndConcatenatesSegments) {
  auto r = ImportGpxRoute(R"(<gpx version="1.1"><trk><name>t</name>
      <trkseg><trkpt lat="1" lon="2"><ele>5</ele><time>2024-01-01T00:00:00Z</time></trkpt>
              <trkpt lat="1.1" lon="2.1"/></trkseg>
      <trkseg><trkpt lat="1.2" lon="2.2"/></trkseg></trk></gpx>)",
                          "t.gpx");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[2].lon_deg(), 2.2);
}

TEST(GpxImportTest, TruncatedXmlNamesSourceAndLine) {
  std::string text(kGpxRoute);
  text.resize(text.find("<rtept lat=\"48.1400\"") + 12);
  auto r = ImportGpxRoute(text, "cut.gpx");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()), AllOf(HasSubstr("cut.gpx: invalid XML at line 6")));
}

TEST(GpxImportTest, Latitude91NamesThePointAndAttribute) {
  auto r = ImportGpxRoute(
      R"(<gpx><rte><rtept lat="1" lon="2"/><rtept lat="91" lon="2"/></rte></gpx>)", "r.gpx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()), "r.gpx: gpx/rte/rtept[1]@lat: latitude 91 is outside [-90, 90]");
}

TEST(GpxImportTest, NaNAndGarbageCoordinatesAreRejected) {
  auto nan = ImportGpxRoute(
      R"(<gpx><trk><trkseg><trkpt lat="1" lon="2"/><trkpt lat="1" lon="nan"/></trkseg></trk></gpx>)",
      "n.gpx");
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(Message(nan.status()), "n.gpx: gpx/trk/trkseg[0]/trkpt[1]@lon: longitude is NaN");
  auto text = ImportGpxRoute(R"(<gpx><rte><rtept lat="1,5" lon="2"/></rte></gpx>)", "g.gpx");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(Message(text.status()), R"(g.gpx: gpx/rte/rtept[0]@lat: "1,5" is not a number)");
  auto missing = ImportGpxRoute(R"(<gpx><rte><rtept lat="1"/></rte></gpx>)", "m.gpx");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(Message(missing.status()), "m.gpx: gpx/rte/rtept[0]@lon: attribute missing");
}

TEST(GpxImportTest, EmptyAndOnePointRoutesAreRejected) {
  auto empty = ImportGpxRoute("<gpx><rte/></gpx>", "e.gpx");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(Message(empty.status()), "e.gpx: gpx/rte: has 0 points; a route needs at least 2");
  auto one =
      ImportGpxRoute(R"(<gpx><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>)", "o.gpx");
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(Message(one.status()), "o.gpx: gpx/trk: has 1 point; a route needs at least 2");
}

TEST(GpxImportTest, RequiresExactlyOneRouteOrTrackUnderGpxRoot) {
  auto both = ImportGpxRoute("<gpx><rte/><trk/></gpx>", "b.gpx");
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(Message(both.status()),
            "b.gpx: gpx: expected exactly one <rte> or <trk>, found 1 <rte> and 1 <trk>");
  auto none = ImportGpxRoute("<gpx><wpt lat=\"1\" lon=\"2\"/></gpx>", "w.gpx");
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(Message(none.status()), HasSubstr("found 0 <rte> and 0 <trk>"));
  auto kml = ImportGpxRoute("<kml><Document/></kml>", "k.kml");
  ASSERT_FALSE(kml.ok());
  EXPECT_EQ(Message(kml.status()), "k.kml: root element is <kml>, expected <gpx>");
}

TEST(GpxImportTest, DeeplyNestedXmlIsRejectedBeforeParsing) {
  std::string text = "<gpx>";
  for (int i = 0; i < 100'000; ++i) text += "<a>";
  auto r = ImportGpxRoute(text, "deep.gpx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()), "deep.gpx: XML nested 100001 levels deep; at most 64 supported");
  // Self-closing look-alikes in attribute values and comments do not hide the nesting.
  std::string tricky = "<gpx>";
  for (int i = 0; i < 1000; ++i) tricky += R"(<a x="/>"><!-- /> -->)";
  auto t = ImportGpxRoute(tricky, "tricky.gpx");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(Message(t.status()), HasSubstr("XML nested 1001 levels deep"));
}

// ---- Encoded polyline ---------------------------------------------------------------------

// The reference encoder (Google's algorithm), for round trips.
std::string Encode(const std::vector<std::pair<double, double>>& lat_lon, int precision) {
  const double scale = std::pow(10.0, precision);
  std::string out;
  std::int64_t prev[2] = {0, 0};
  for (const auto& [lat, lon] : lat_lon) {
    const std::int64_t v[2] = {std::llround(lat * scale), std::llround(lon * scale)};
    for (int k = 0; k < 2; ++k) {
      std::int64_t d = v[k] - prev[k];
      std::uint64_t u =
          d < 0 ? ~(static_cast<std::uint64_t>(d) << 1) : static_cast<std::uint64_t>(d) << 1;
      while (u >= 0x20) {
        out.push_back(static_cast<char>((0x20 | (u & 0x1f)) + 63));
        u >>= 5;
      }
      out.push_back(static_cast<char>(u + 63));
      prev[k] = v[k];
    }
  }
  return out;
}

TEST(PolylineTest, DecodesGooglesReferenceExampleAtPrecision5) {
  auto r = DecodePolyline("_p~iF~ps|U_ulLnnqC_mqNvxq`@", 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_DOUBLE_EQ((*r)[0].lat_deg(), 38.5);
  EXPECT_DOUBLE_EQ((*r)[0].lon_deg(), -120.2);
  EXPECT_DOUBLE_EQ((*r)[1].lat_deg(), 40.7);
  EXPECT_DOUBLE_EQ((*r)[1].lon_deg(), -120.95);
  EXPECT_DOUBLE_EQ((*r)[2].lat_deg(), 43.252);
  EXPECT_DOUBLE_EQ((*r)[2].lon_deg(), -126.453);
}

TEST(PolylineTest, RoundTripsPrecision6AcrossHemispheresAndTheAntimeridian) {
  const std::vector<std::pair<double, double>> pts{{48.137154, 11.575382},
                                                   {-33.868820, 151.209296},
                                                   {-16.85, 179.999999},
                                                   {-16.85, -179.999999},
                                                   {0.0, 0.0},
                                                   {89.999999, -0.000001}};
  auto r = DecodePolyline(Encode(pts, 6), 6);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), pts.size());
  for (std::size_t i = 0; i < pts.size(); ++i) {
    EXPECT_NEAR((*r)[i].lat_deg(), pts[i].first, 1e-9);
    EXPECT_NEAR((*r)[i].lon_deg(), pts[i].second, 1e-9);
  }
}

TEST(PolylineTest, TruncatedStringIsReportedWithThePoint) {
  const std::string full = Encode({{48.1, 11.5}, {48.2, 11.6}}, 5);
  auto inside = DecodePolyline(full.substr(0, full.size() - 1), 5);
  ASSERT_FALSE(inside.ok());
  EXPECT_THAT(Message(inside.status()),
              AllOf(HasSubstr("polyline: point 1 longitude"), HasSubstr("truncated")));
  const std::string lat_only = Encode({{48.1, 11.5}, {48.2, 11.5}}, 5);
  auto half = DecodePolyline(lat_only.substr(0, lat_only.size() - 1), 5);
  ASSERT_FALSE(half.ok());
  EXPECT_THAT(Message(half.status()), HasSubstr("polyline: point 1 longitude: missing"));
}

TEST(PolylineTest, InvalidCharacterIsNamedWithOffset) {
  auto r = DecodePolyline("_p~iF~ps|U _ulLnnqC", 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()),
            "polyline: point 1 latitude: invalid character 0x20 at offset 10 (polyline characters "
            "are '?'..'~')");
}

TEST(PolylineTest, WrongPrecisionShowsAsOutOfRangeLatitude) {
  // 52.5 N encoded at precision 6 but decoded at 5 reads as 525 N.
  auto r = DecodePolyline(Encode({{52.5, 13.4}, {52.6, 13.5}}, 6), 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()),
            "polyline: point 0: latitude 525 is outside [-90, 90] (wrong precision?)");
}

TEST(PolylineTest, RejectsUnsupportedPrecisionEmptyAndSinglePoint) {
  EXPECT_EQ(Message(DecodePolyline("??", 7).status()), "polyline precision must be 5 or 6, got 7");
  EXPECT_EQ(Message(DecodePolyline("", 5).status()),
            "polyline: has 0 points; a route needs at least 2");
  EXPECT_EQ(Message(DecodePolyline(Encode({{1, 2}}, 5), 5).status()),
            "polyline: has 1 point; a route needs at least 2");
}

TEST(PolylineTest, OverlongValueIsRejectedNotOverflowed) {
  auto r = DecodePolyline(std::string(40, '~') + "?", 5);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()), HasSubstr("value too long"));
}

// ---- Files --------------------------------------------------------------------------------

TEST(ImportRouteFileTest, PicksTheImporterByExtension) {
  cit::test::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  auto geojson =
      ImportRouteFile(write("r.geojson", R"({"type":"LineString","coordinates":[[1,2],[3,4]]})"));
  ASSERT_TRUE(geojson.ok()) << geojson.status();
  auto gpx = ImportRouteFile(write("r.GPX", kGpxRoute));
  ASSERT_TRUE(gpx.ok()) << gpx.status();
  EXPECT_EQ(gpx->size(), 3u);
  auto p6 = ImportRouteFile(write("r.polyline6", Encode({{1, 2}, {3, 4}}, 6) + "\n"));
  ASSERT_TRUE(p6.ok()) << p6.status();
  EXPECT_DOUBLE_EQ((*p6)[1].lon_deg(), 4.0);
  auto bad = ImportRouteFile(write("r.polyline", "_p~iF~ps|U_ulL"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Message(bad.status()),
              HasSubstr((dir / "r.polyline").string() + ": polyline: point 1"));
}

// Issue 10, 4.9: a device never ends; reading it grew the process by gigabytes.
TEST(ImportRouteFileTest, DeviceOrDirectoryIsRefusedWithoutReadingIt) {
  auto zero = ImportRouteFile("/dev/zero");
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(zero.status()), HasSubstr("/dev/zero: not a regular file"));
  cit::test::TempDir dir;
  std::filesystem::create_directory(dir / "dir.geojson");
  auto directory = ImportRouteFile(dir / "dir.geojson");
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ImportRouteFileTest, MissingFileIsNotFoundAndUnknownExtensionIsNamed) {
  cit::test::TempDir dir;
  auto missing = ImportRouteFile(dir / "nope.gpx");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir / "route.kml") << "<kml/>";
  auto kml = ImportRouteFile(dir / "route.kml");
  ASSERT_FALSE(kml.ok());
  EXPECT_THAT(Message(kml.status()), HasSubstr("unknown route format '.kml'"));
}

// ---- Robustness ---------------------------------------------------------------------------

TEST(RouteImportRobustnessTest, EveryPrefixAndRandomMutationGivesAStatusNeverACrash) {
  const std::string geojson =
      R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":"x"},
      "geometry":{"type":"LineString","coordinates":[[11.5,48.1],[11.6,48.2,3],[11.7,48.3]]}}]})";
  const std::string gpx = kGpxRoute;
  const std::string poly = "_p~iF~ps|U_ulLnnqC_mqNvxq`@";
  int ok = 0;
  auto check = [&](const absl::StatusOr<std::vector<LonLat>>& r) {
    if (r.ok()) {
      ++ok;
      EXPECT_GE(r->size(), 2u);
    } else {
      EXPECT_FALSE(r.status().message().empty());
    }
  };
  for (std::size_t n = 0; n <= geojson.size(); ++n)
    check(ImportGeoJsonRoute(geojson.substr(0, n), "p"));
  for (std::size_t n = 0; n <= gpx.size(); ++n) check(ImportGpxRoute(gpx.substr(0, n), "p"));
  for (std::size_t n = 0; n <= poly.size(); ++n) check(DecodePolyline(poly.substr(0, n), 5));
  std::mt19937_64 rng(12345);
  const std::string alphabet = "{}[]\",:.-+eE0123456789 <>/=?~_nNaIf\x01\xff";
  for (int i = 0; i < 3000; ++i) {
    std::string g = geojson, x = gpx, p = poly;
    for (std::string* s : {&g, &x, &p}) {
      for (int k = 0; k < 3; ++k) {
        (*s)[rng() % s->size()] = alphabet[rng() % alphabet.size()];
      }
    }
    check(ImportGeoJsonRoute(g, "m"));
    check(ImportGpxRoute(x, "m"));
    check(DecodePolyline(p, 5 + static_cast<int>(rng() % 2)));
  }
  EXPECT_GT(ok, 3) << "the full inputs at least must import";
}

}  // namespace
}  // namespace cit::geo
