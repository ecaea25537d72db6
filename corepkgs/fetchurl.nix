# <nix/fetchurl.nix>: a fixed-output derivation fetched by the builtin
# fetcher ("builtin:fetchurl"), as CppNix provides it under <nix/…>.
# Written for tsnix; the attribute set follows CppNix's so that derivation
# paths agree.
{
  system ? "",
  url,
  hash ? "",
  sha1 ? "",
  sha256 ? "",
  sha512 ? "",
  outputHash ? if hash != "" then hash else if sha512 != "" then sha512 else if sha1 != "" then sha1 else sha256,
  outputHashAlgo ? if hash != "" then "" else if sha512 != "" then "sha512" else if sha1 != "" then "sha1" else "sha256",
  executable ? false,
  unpack ? false,
  name ? baseNameOf (toString url),
  impure ? false,
}:

derivation (
  {
    builder = "builtin:fetchurl";
    # the builtin builder runs on any platform
    system = "builtin";
    outputHashMode = if unpack || executable then "recursive" else "flat";
    inherit name url executable unpack;
    urls = [ url ];
    impureEnvVars = [
      "http_proxy"
      "https_proxy"
      "ftp_proxy"
      "all_proxy"
      "no_proxy"
    ];
    preferLocalBuild = true;
  }
  // (if impure then { __impure = true; } else { inherit outputHashAlgo outputHash; })
)
