// Track files of `dispatchctl plan check` (dispatchctl/track_formats.h): each format read into
// the same fixes, and each kind of mistake refused naming the line (or GeoJSON element).
#include "dispatchctl/track_formats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'768'464'000'000;  // 2026-01-15T08:00:00Z in ms

std::string Nmea(const std::string& body) {
  unsigned sum = 0;
  for (char c : body) sum ^= static_cast<unsigned char>(c);
  char hex[4];
  std::snprintf(hex, sizeof hex, "%02X", sum);
  return "$" + body + "*" + hex;
}

void ExpectThreeFixes(const absl::StatusOr<std::vector<TrackFix>>& r) {
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].time_unix_ms, kT0);
  EXPECT_EQ((*r)[1].time_unix_ms, kT0 + 1000);
  EXPECT_EQ((*r)[2].time_unix_ms, kT0 + 2500);
  EXPECT_NEAR((*r)[1].lat_deg, 47.3701, 1e-9);
  EXPECT_NEAR((*r)[1].lon_deg, 8.501, 1e-9);
}

std::string Error(const absl::StatusOr<std::vector<TrackFix>>& r) {
  return r.ok() ? "(accepted)" : std::string(r.status().message());
}

TEST(TrackFormatsTest, CsvWithHeaderOptionalColumnsAndBothTimeForms) {
  const auto r = ParseCsvTrack(
      "time,lat,lon,speed,track\n"
      "2026-01-15T08:00:00Z,47.3700,8.5000,0,\n"
      "# comment\n\n"
      "1768464001,47.3701,8.5010,5.5,90\r\n"
      "2026-01-15T09:00:02.5+01:00,47.3702,8.5020\n",
      "t.csv");
  ExpectThreeFixes(r);
  EXPECT_EQ(*(*r)[1].speed_mps, 5.5);
  EXPECT_EQ(*(*r)[1].track_deg, 90);
  EXPECT_FALSE((*r)[0].track_deg.has_value());
  EXPECT_FALSE((*r)[2].speed_mps.has_value());
}

TEST(TrackFormatsTest, CsvMistakesNameTheLine) {
  EXPECT_THAT(Error(ParseCsvTrack("1768464000,47.37,8.5\n1768464001,91,8.5\n", "t.csv")),
              HasSubstr("t.csv:2: latitude 91 is outside [-90, 90]"));
  EXPECT_THAT(Error(ParseCsvTrack("1768464000,47.37,8.5\nyesterday,47.37,8.5\n", "t.csv")),
              HasSubstr("t.csv:2: time 'yesterday'"));
  EXPECT_THAT(Error(ParseCsvTrack("1768464000,47.37\n", "t.csv")), HasSubstr("t.csv:1: 2 fields"));
  EXPECT_THAT(Error(ParseCsvTrack("1768464005,47.37,8.5\n1768464001,47.37,8.5\n", "t.csv")),
              HasSubstr("t.csv:2: time goes back 4 s"));
  EXPECT_THAT(Error(ParseCsvTrack("1768464000,47.37,8.5,-3\n", "t.csv")),
              HasSubstr("t.csv:1: speed '-3'"));
  EXPECT_THAT(Error(ParseCsvTrack("time,lat,lon\n", "t.csv")), HasSubstr("no fixes"));
}

TEST(TrackFormatsTest, CsvBeyondTheFixLimitIsRefusedSayingSo) {
  std::ostringstream csv;
  for (std::size_t i = 0; i <= kMaxTrackFixes; ++i) csv << 1'768'464'000 + i << ",47.37,8.5\n";
  EXPECT_THAT(Error(ParseCsvTrack(csv.str(), "big.csv")),
              HasSubstr("big.csv:100001: more than 100000 fixes"));
}

TEST(TrackFormatsTest, GpxTrackPointsWithTimesSpeedAndCourse) {
  const auto r = ParseGpxTrack(
      "<?xml version=\"1.0\"?>\n<gpx version=\"1.0\">\n"
      "<!-- <trkpt lat=\"0\" lon=\"0\"> -->\n"
      "<trk><trkseg>\n"
      "<trkpt lat=\"47.37\" lon=\"8.5\"><time>2026-01-15T08:00:00Z</time></trkpt>\n"
      "<trkpt lon='8.501' lat='47.3701'><time>2026-01-15T08:00:01Z</time>"
      "<speed>4.5</speed><course>91</course></trkpt>\n"
      "<trkpt lat=\"47.3702\" lon=\"8.502\">\n  <time>2026-01-15T08:00:02.500Z</time>\n</trkpt>\n"
      "</trkseg></trk></gpx>\n",
      "t.gpx");
  ExpectThreeFixes(r);
  EXPECT_EQ(*(*r)[1].speed_mps, 4.5);
  EXPECT_EQ(*(*r)[1].track_deg, 91);
}

TEST(TrackFormatsTest, GpxMistakesNameTheLine) {
  const std::string head = "<gpx>\n<trk><trkseg>\n";
  EXPECT_THAT(Error(ParseGpxTrack(head + "<trkpt lat=\"47\" lon=\"8\"></trkpt>\n", "t.gpx")),
              HasSubstr("t.gpx:3: <trkpt> without <time>"));
  EXPECT_THAT(
      Error(ParseGpxTrack(head + "\n<trkpt lat=\"x\" lon=\"8\"><time>2026-01-15T08:00:00Z</time>"
                                 "</trkpt>\n",
                          "t.gpx")),
      HasSubstr("t.gpx:4: lat=\"x\""));
  EXPECT_THAT(
      Error(ParseGpxTrack(head + "<trkpt lat=\"47\" lon=\"8\"><time>noon</time></trkpt>", "t.gpx")),
      HasSubstr("t.gpx:3: <time>noon</time> is not RFC 3339"));
  EXPECT_THAT(Error(ParseGpxTrack("<kml></kml>", "t.gpx")), HasSubstr("not a GPX document"));
}

TEST(TrackFormatsTest, GpxPointStructureMistakesAreNamed) {
  const std::string head = "<gpx>\n<trk><trkseg>\n";
  const std::string time = "<time>2026-01-15T08:00:00Z</time>";
  EXPECT_THAT(Error(ParseGpxTrack(head + "<trkpt lat=\"47\" lon=\"8\">" + time +
                                      "\n<trkpt lat=\"47\" lon=\"8\">" + time + "</trkpt>",
                                  "t.gpx")),
              HasSubstr("t.gpx:3: <trkpt> without </trkpt>"));
  EXPECT_THAT(Error(ParseGpxTrack(head + "<trkpt lat=\"47\" lon=\"8\">" + time, "t.gpx")),
              HasSubstr("t.gpx:3: <trkpt> without </trkpt>"));
  EXPECT_THAT(Error(ParseGpxTrack(head + "<trkpt lat=\"47\" lon=\"8\"/>", "t.gpx")),
              HasSubstr("t.gpx:3: <trkpt> without <time>"));
  EXPECT_THAT(Error(ParseGpxTrack(head + "\n<trkpt lat=\"47\" lon=\"8\"", "t.gpx")),
              HasSubstr("t.gpx:4: unterminated tag"));
}

TEST(TrackFormatsTest, GpxSkipsCommentsCdataAndDeclarationsAroundAndInsidePoints) {
  const auto r = ParseGpxTrack(
      "<?xml version=\"1.0\"?>\n<!DOCTYPE gpx>\n<gpx><![CDATA[<trkpt lat=\"1\" lon=\"1\">]]>\n"
      "<trkpt lat=\"47.37\" lon=\"8.5\"><!-- <time>bad</time> -->"
      "<time>2026-01-15T08:00:00Z</time></trkpt>\n"
      "<trkpt lat=\"47.3701\" lon=\"8.501\"><extensions><time>2026-01-15T08:00:01Z</time>"
      "</extensions><time>ignored: the first time counts</time></trkpt>\n"
      "<trkpt lat=\"47.3702\" lon=\"8.502\"><time>2026-01-15T08:00:02.500Z</time></trkpt>"
      "<!-- unterminated comment <trkpt lat=\"1\" lon=\"1\">",
      "t.gpx");
  ExpectThreeFixes(r);
}

// The shape that stalled an earlier scanner for >10 s under the fuzzer: many points and no
// comment, so each point's search for the next comment ran to the end of the document. The
// scan is linear now (bench/track_parse_bench measures it); this checks that every point of a
// long comment-free document is read, in order, with its line.
TEST(TrackFormatsTest, GpxWithManyPointsAndNoCommentsIsReadWhole) {
  std::ostringstream gpx;
  gpx << "<gpx><trk><trkseg>\n";
  constexpr int kPoints = 20'000;
  for (int i = 0; i < kPoints; ++i) {
    char time[32];
    std::snprintf(time, sizeof time, "2026-01-15T%02d:%02d:%02dZ", 8 + i / 3600, i / 60 % 60,
                  i % 60);
    gpx << "<trkpt lat=\"47.37\" lon=\"8.5\"><time>" << time << "</time></trkpt>\n";
  }
  const auto r = ParseGpxTrack(gpx.str() + "</trkseg></trk></gpx>", "big.gpx");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), static_cast<std::size_t>(kPoints));
  EXPECT_EQ(r->front().time_unix_ms, kT0);
  EXPECT_EQ(r->back().time_unix_ms, kT0 + (kPoints - 1) * 1000LL);
  // A mistake after all of them still names its line.
  EXPECT_THAT(Error(ParseGpxTrack(gpx.str() + "<trkpt lat=\"91\" lon=\"8.5\"><time>"
                                              "2026-01-15T23:00:00Z</time></trkpt>",
                                  "big.gpx")),
              HasSubstr("big.gpx:20002: latitude 91"));
}

TEST(TrackFormatsTest, GeoJsonPointsAndLineStrings) {
  ExpectThreeFixes(ParseGeoJsonTrack(
      R"({"type":"FeatureCollection","features":[
        {"type":"Feature","geometry":{"type":"Point","coordinates":[8.5,47.37]},
         "properties":{"time":"2026-01-15T08:00:00Z","speed":3}},
        {"type":"Feature","geometry":{"type":"Point","coordinates":[8.501,47.3701]},
         "properties":{"timestamp":1768464001}},
        {"type":"Feature","geometry":{"type":"Point","coordinates":[8.502,47.3702]},
         "properties":{"datetime":"2026-01-15T08:00:02.5Z"}}]})",
      "t.geojson"));
  ExpectThreeFixes(ParseGeoJsonTrack(
      R"({"type":"Feature","geometry":{"type":"LineString",
          "coordinates":[[8.5,47.37],[8.501,47.3701],[8.502,47.3702]]},
          "properties":{"coordTimes":["2026-01-15T08:00:00Z","2026-01-15T08:00:01Z",
                                      "2026-01-15T08:00:02.500Z"]}})",
      "t.geojson"));
  ExpectThreeFixes(ParseGeoJsonTrack(
      R"({"type":"LineString","coordinates":[[8.5,47.37,400,1768464000],
          [8.501,47.3701,400,1768464001],[8.502,47.3702,400,1768464002.5]]})",
      "t.geojson"));
}

TEST(TrackFormatsTest, GeoJsonMistakesNameTheLineOrElement) {
  EXPECT_THAT(Error(ParseGeoJsonTrack("{\"type\":\n\"Feature\",\n,}", "t.geojson")),
              HasSubstr("t.geojson:3: not valid JSON"));
  EXPECT_THAT(Error(ParseGeoJsonTrack(
                  R"({"type":"FeatureCollection","features":[{"type":"Feature",
                      "geometry":{"type":"Point","coordinates":[8.5,47.37]},"properties":{}}]})",
                  "t.geojson")),
              HasSubstr("features[0].properties: no time"));
  EXPECT_THAT(
      Error(ParseGeoJsonTrack(R"({"type":"LineString","coordinates":[[47.37,98.5,0,1768464000]]})",
                              "t.geojson")),
      HasSubstr("coordinates[0]: latitude 98.5 is outside [-90, 90] (GeoJSON is [lon, "
                "lat]: swapped?)"));
  // A number beyond double is an error, not an exception out of the parser (found by
  // fuzz.track_geojson; the input is a seed there).
  EXPECT_THAT(Error(ParseGeoJsonTrack(
                  R"({"type":"LineString","coordinates":[[8.5,47.37,0,1e999]]})", "t.geojson")),
              HasSubstr("t.geojson: not valid JSON"));
}

TEST(TrackFormatsTest, NmeaRmcAndGgaWithChecksumsAcrossMidnight) {
  const std::string text =
      Nmea("GPGGA,235959,4722.2000,N,00830.0000,E,1,09,0.9,410,M,48,M,,") + "\n" +
      Nmea("GPRMC,000000,A,4722.2060,N,00830.0600,E,19.4,90.0,160126,,,A") + "\n" +
      Nmea("GPGSV,1,1,00") + "\n" + Nmea("GPRMC,000001,V,,,,,,,160126,,,N") + "\n" +
      Nmea("GNGGA,000002.5,4722.2120,S,00830.1200,W,1,09,0.9,410,M,48,M,,") + "\n";
  const auto r = ParseNmeaTrack(text, "t.nmea");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  // 2026-01-15T23:59:59Z (the GGA before the first RMC belongs to the day before it).
  EXPECT_EQ((*r)[0].time_unix_ms, kT0 + (15 * 3600 + 59 * 60 + 59) * 1000);
  EXPECT_EQ((*r)[1].time_unix_ms, kT0 + 16 * 3600 * 1000);
  EXPECT_NEAR((*r)[1].lat_deg, 47 + 22.206 / 60, 1e-9);
  EXPECT_NEAR(*(*r)[1].speed_mps, 19.4 * 1852 / 3600, 1e-9);
  EXPECT_EQ((*r)[2].time_unix_ms, kT0 + 16 * 3600 * 1000 + 2500);
  EXPECT_NEAR((*r)[2].lat_deg, -(47 + 22.212 / 60), 1e-9);
  EXPECT_NEAR((*r)[2].lon_deg, -(8 + 30.12 / 60), 1e-9);
}

TEST(TrackFormatsTest, NmeaMistakesNameTheLine) {
  const std::string good = Nmea("GPRMC,080000,A,4722.2000,N,00830.0000,E,0,,150126,,,A");
  std::string bad = Nmea("GPRMC,080001,A,4722.2000,N,00830.0000,E,0,,150126,,,A");
  bad[10] = '9';  // damaged in transit: the checksum no longer matches
  EXPECT_THAT(Error(ParseNmeaTrack(good + "\n" + bad + "\n", "t.nmea")),
              HasSubstr("t.nmea:2: checksum *"));
  EXPECT_THAT(Error(ParseNmeaTrack(good + "\n$GPRMC,080001,A\n", "t.nmea")),
              HasSubstr("t.nmea:2: no *hh checksum"));
  EXPECT_THAT(Error(ParseNmeaTrack(good + "\n\n\xb5\x62\x01\n", "t.nmea")),
              HasSubstr("t.nmea:3: not an NMEA sentence"));
  EXPECT_THAT(Error(ParseNmeaTrack(Nmea("GPGGA,080000,4722.2,N,00830.0,E,1,9,1,4,M,4,M,,") + "\n",
                                   "t.nmea")),
              HasSubstr("t.nmea:1: GGA sentences but no RMC"));
  EXPECT_THAT(
      Error(ParseNmeaTrack(Nmea("GPRMC,080000,A,4722.2,N,00830.0,E,0,,321326,,,A"), "t.nmea")),
      HasSubstr("t.nmea:1: date '321326'"));
}

TEST(TrackFormatsTest, RealReceiverCaptureReadsEveryFix) {
  // A real NMEA capture that ships in tests/data (gpsd project, BSD-2-Clause): 147 fixes at 1 s.
  absl::StatusOr<std::vector<TrackFix>> r =
      LoadTrackFile(cit::test::RepoData("gpsd/bundg_zeus_9.log"), TrackFormat::kNmea);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->size(), 140u);
  for (std::size_t i = 1; i < r->size(); ++i) {
    EXPECT_GT((*r)[i].time_unix_ms, (*r)[i - 1].time_unix_ms);
  }
  EXPECT_NEAR(r->front().lat_deg, 52.85, 0.05);  // IJsselmeer
  EXPECT_NEAR(r->front().lon_deg, 5.31, 0.05);
}

TEST(TrackFormatsTest, AutoDetectsByExtensionThenContent) {
  EXPECT_EQ(ParseTrackFormat("nmea"), TrackFormat::kNmea);
  EXPECT_FALSE(ParseTrackFormat("kml").has_value());
  const auto r = ParseTrack(
      "<gpx><trk><trkseg><trkpt lat=\"1\" lon=\"2\"><time>"
      "2026-01-15T08:00:00Z</time></trkpt></trkseg></trk></gpx>",
      "x", TrackFormat::kAuto);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), 1u);
}

}  // namespace
}  // namespace cit::ctl
