#pragma once
/// ConfigRepository: Spring Cloud Config's "native" backend. Finds the YAML files of an application
/// and its profiles in the search locations, flattens them to dotted keys and decrypts `{cipher}`
/// values. Reads files: call from the blocking pool.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "lt/core/log.hpp"
#include "lt/core/result.hpp"
#include "property_cipher.hpp"

namespace lt::config_server {

/// One file's flattened properties, in file order.
struct PropertySource {
    std::string name;  ///< "file:<path>"
    std::vector<std::pair<std::string, boost::json::value>> source;
};

/// The answer of GET /{application}/{profile}[/{label}].
struct Environment {
    std::string name;
    std::vector<std::string> profiles;
    std::optional<std::string> label;
    std::vector<PropertySource> property_sources;  ///< most specific first
};

/// The flat merged view: the first property source that has a key wins; keys in first-seen order of
/// the least specific source first (so lists keep their index order).
using FlatProperties = std::vector<std::pair<std::string, boost::json::value>>;

/// Immutable after construction; any thread (each call reads the files afresh).
class ConfigRepository {
public:
    /// `locations`: directories searched in order (an earlier one wins over a later one).
    ConfigRepository(std::vector<std::filesystem::path> locations, PropertyCipher cipher, Logger log);

    /// The environment of `application` under the comma-separated `profiles`. Errc::not_found when no
    /// file of the application itself exists ({application}.yml or {application}-{profile}.yml, also
    /// .yaml) or a name is not [A-Za-z0-9._-] (never starting with '.'); Errc::internal when a file is
    /// not valid YAML (its path is logged).
    Result<Environment> find(std::string_view application, std::string_view profiles,
                             std::optional<std::string> label) const;

    /// The cipher (the module's /encrypt and /decrypt use the same key).
    const PropertyCipher& cipher() const { return cipher_; }

private:
    std::vector<std::filesystem::path> locations_;
    PropertyCipher cipher_;
    Logger log_;
};

/// Spring's JSON: {"name","profiles","label","version","state","propertySources":[{"name","source"}]}.
boost::json::value to_json(const Environment& env);

/// The merged view of `env` (precedence applied).
FlatProperties merge(const Environment& env);

/// The merged view as a nested YAML document.
std::string render_yaml(const FlatProperties& props);

/// The merged view as a Java properties document (`key=value` lines, escaped).
std::string render_properties(const FlatProperties& props);

}  // namespace lt::config_server
