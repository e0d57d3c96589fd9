#!/usr/bin/env bash
# release.sh makes a release of every published module of the repository at
# one version:
#
#	scripts/release.sh [--dry-run] vX.Y.Z
#
# It pushes nothing. In order:
#
#  1. checks the version (vMAJOR.MINOR.PATCH with an optional pre-release,
#     major 0 or 1: v2 and later need a /v2 module path), that the work tree
#     is clean and that none of the tags exists;
#  2. sets every requirement of a published module of this repository, in
#     every module of the workspace, to the version (go mod edit -require),
#     runs go mod tidy in each module (GOWORK=off, so each go.mod stands on
#     its own; the replace directives keep it local), and builds everything;
#  3. moves CHANGELOG.md's [Unreleased] entries under the version's heading;
#  4. commits "Release vX.Y.Z" with the published modules' replace directives
#     of each other dropped, as their users will see them: `go install
#     pkg@version` refuses a module whose go.mod has a replace directive, and
#     a replace in a dependency is ignored anyway;
#  5. tags that commit, annotated: vX.Y.Z for the core module,
#     fuseboxprom/vX.Y.Z, fuseboxotel/vX.Y.Z, fuseboxgrpc/vX.Y.Z and
#     cmd/fusebox/vX.Y.Z for the others (a nested module's tag is its
#     directory, a slash, and the version);
#  6. commits "Back to development after vX.Y.Z", the replace directives
#     restored, so that the repository builds its own code with or without
#     go.work;
#  7. prints the push command.
#
# dashboard/browsertest, bench and releasetest are modules of tests and
# benchmarks: nobody imports them, so they are not tagged; their
# requirements are set like the others' and they keep their replace
# directives. A module the script does not know (a new entry of go.work)
# stops it until it is added to one list or the other.
#
# --dry-run checks and prints every step (the commands marked "+") and
# changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
export GOWORK="$PWD/go.work" # whatever the caller's GOWORK, the workspace lists the modules

usage() {
	echo "usage: scripts/release.sh [--dry-run] vX.Y.Z" >&2
	exit 2
}

dry=false
version=""
for arg in "$@"; do
	case $arg in
	--dry-run) dry=true ;;
	-h | --help) usage ;;
	-*) echo "release.sh: unknown flag $arg" >&2; usage ;;
	*)
		[ -z "$version" ] || usage
		version=$arg
		;;
	esac
done
[ -n "$version" ] || usage

semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
if ! [[ $version =~ $semver ]]; then
	echo "release.sh: $version is not a version vMAJOR.MINOR.PATCH[-PRERELEASE]" >&2
	exit 2
fi
major=${BASH_REMATCH[1]}
if [ "$major" -gt 1 ]; then
	echo "release.sh: $version: a major version 2 or more needs module paths ending in /v$major" >&2
	exit 2
fi
changelog_version=${version#v}

core=github.com/fusebox-go/fusebox
# Published modules, tagged: directory relative to the root ("." for the core).
published=(. fuseboxprom fuseboxotel fuseboxgrpc cmd/fusebox)
# Modules of tests and benchmarks, not tagged.
unpublished=(dashboard/browsertest bench releasetest examples)

modpath() { # the module path of a directory
	if [ "$1" = . ]; then echo "$core"; else echo "$core/$1"; fi
}
tagname() {
	if [ "$1" = . ]; then echo "$version"; else echo "$1/$version"; fi
}
quote() { # the words, quoted for the shell where needed
	local out
	printf -v out '%q ' "$@"
	echo "${out% }"
}
run() { # print a command, and run it unless --dry-run
	echo "+ $(quote "$@")"
	$dry || "$@"
}
in_dir() { # in_dir DIR CMD...: run CMD in DIR (printed as such)
	local d=$1
	shift
	echo "+ (cd $d && $(quote "$@"))"
	$dry || (cd "$d" && "$@")
}

# The workspace's modules, relative to the root, must all be known.
root=$PWD
modules=()
while IFS= read -r dir; do
	rel=${dir#"$root"}
	rel=${rel#/}
	modules+=("${rel:-.}")
done < <(go list -m -f '{{.Dir}}')
for m in "${modules[@]}"; do
	case " ${published[*]} ${unpublished[*]} " in
	*" $m "*) ;;
	*)
		echo "release.sh: module $m is in go.work but neither published nor unpublished: add it to one list" >&2
		exit 1
		;;
	esac
done

# 1. Checks.
git rev-parse --git-dir >/dev/null
if [ -n "$(git status --porcelain)" ]; then
	if $dry; then
		echo "release.sh: note: the work tree is not clean; a real run would stop here" >&2
	else
		echo "release.sh: the work tree is not clean: commit or stash first" >&2
		git status --short >&2
		exit 1
	fi
fi
tags=()
for m in "${published[@]}"; do
	t=$(tagname "$m")
	if git rev-parse -q --verify "refs/tags/$t" >/dev/null; then
		echo "release.sh: tag $t exists already" >&2
		exit 1
	fi
	tags+=("$t")
done
if ! grep -q '^## \[Unreleased\]' CHANGELOG.md; then
	echo "release.sh: CHANGELOG.md has no '## [Unreleased]' heading" >&2
	exit 1
fi
echo "release $version: tags ${tags[*]}"

# 2. Requirements and go mod tidy.
requires() { # requires DIR PATH: DIR's go.mod requires PATH
	(cd "$1" && go mod edit -print) | grep -Eq "^(require[[:space:]]+|[[:space:]]+)${2//./\\.}[[:space:]]+v"
}
replaces() { # replaces DIR PATH: DIR's go.mod replaces PATH
	(cd "$1" && go mod edit -print) | grep -Eq "^(replace[[:space:]]+|[[:space:]]+)${2//./\\.}([[:space:]]+v[^[:space:]]*)?[[:space:]]+=>"
}
for m in "${modules[@]}"; do
	for p in "${published[@]}"; do
		path=$(modpath "$p")
		[ "$path" != "$(modpath "$m")" ] || continue
		if requires "$m" "$path"; then
			in_dir "$m" go mod edit -require="$path@$version"
		fi
	done
done
for m in "${modules[@]}"; do
	in_dir "$m" env GOWORK=off go mod tidy
done
for m in "${modules[@]}"; do
	in_dir "$m" go build ./...
done

# 3. CHANGELOG.md: the [Unreleased] entries become the version's, and the
# link definitions at the end follow.
today=$(date -u +%Y-%m-%d)
previous=$(git tag -l 'v[0-9]*' --sort=-v:refname | head -n 1)
repo_url=https://github.com/fusebox-go/fusebox
if [ -n "$previous" ]; then
	version_link="$repo_url/compare/$previous...$version"
else
	version_link="$repo_url/releases/tag/$version"
fi
echo "+ CHANGELOG.md: '## [Unreleased]' keeps nothing; '## [$changelog_version] - $today' takes its entries"
if ! $dry; then
	awk -v ver="$changelog_version" -v today="$today" -v tag="$version" \
		-v vlink="$version_link" -v url="$repo_url" '
		/^## \[Unreleased\]/ && !done { print; print ""; print "## [" ver "] - " today; done = 1; next }
		/^\[Unreleased\]: / { print "[Unreleased]: " url "/compare/" tag "...HEAD"; print "[" ver "]: " vlink; next }
		{ print }
	' CHANGELOG.md >CHANGELOG.md.new
	mv CHANGELOG.md.new CHANGELOG.md
fi

# 4. The release commit, without the published modules' replace directives
# of each other. The development go.mod files are kept for step 6.
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT
dropped=()
for m in "${published[@]}"; do
	for p in "${published[@]}"; do
		path=$(modpath "$p")
		[ "$path" != "$(modpath "$m")" ] || continue
		if replaces "$m" "$path"; then
			if [ ! -e "$keep/$m/go.mod" ]; then
				mkdir -p "$keep/$m"
				cp "$m/go.mod" "$keep/$m/go.mod"
				dropped+=("$m")
			fi
			in_dir "$m" go mod edit -dropreplace="$path"
		fi
	done
done
run git add -A -- CHANGELOG.md $(for m in "${modules[@]}"; do echo "$m/go.mod"; [ ! -e "$m/go.sum" ] || echo "$m/go.sum"; done)
run git commit -q -m "Release $version"

# 5. The tags.
for t in "${tags[@]}"; do
	run git tag -a "$t" -m "Fusebox $t"
done

# 6. Back to development.
for m in "${dropped[@]}"; do
	echo "+ restore $m/go.mod"
	$dry || cp "$keep/$m/go.mod" "$m/go.mod"
done
if $dry || [ -n "$(git status --porcelain)" ]; then
	run git commit -q -a -m "Back to development after $version: replace directives restored"
fi

# 7. What is left to do.
echo
echo "Released $version locally; nothing is pushed. To publish:"
echo "	git push origin HEAD ${tags[*]}"
echo "then ask the module proxy for each version, which also brings it to pkg.go.dev:"
for m in "${published[@]}"; do
	echo "	GOPROXY=https://proxy.golang.org go list -m $(modpath "$m")@$version"
done
