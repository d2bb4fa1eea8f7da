// to_json_text and Response::json: doubles print as Java (and the original service) prints them.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/http/message.hpp"

TEST_CASE("doubles serialize as 50.0 and 0.0, not Boost's 5E1 and 0E0") {
    CHECK(lt::to_json_text(boost::json::value(50.0)) == "50.0");
    CHECK(lt::to_json_text(boost::json::value(0.0)) == "0.0");
    CHECK(lt::to_json_text(boost::json::value(140.25)) == "140.25");
    CHECK(lt::to_json_text(boost::json::value(-3.5)) == "-3.5");
    CHECK(lt::to_json_text(boost::json::value(0.1)) == "0.1");
    CHECK(lt::to_json_text(boost::json::value(1e7)) == "1.0E7");
    CHECK(lt::to_json_text(boost::json::value(1.5e-4)) == "1.5E-4");
    CHECK(lt::to_json_text(boost::json::value(1e21)) == "1.0E21");
}

TEST_CASE("objects and arrays with doubles keep every other value as Boost prints it") {
    boost::json::object o{{"a", 1}, {"avg", 50.0}, {"s", "x\"y"}, {"list", boost::json::array{2.0, true, nullptr}}};
    const auto text = lt::to_json_text(o);
    CHECK(text == R"({"a":1,"avg":50.0,"s":"x\"y","list":[2.0,true,null]})");
    CHECK(boost::json::parse(text) == boost::json::value(o));
    CHECK(lt::http::Response::json(200, o).body == text);
    CHECK(lt::to_json_text(boost::json::object{{"n", 5}}) == R"({"n":5})");
}
