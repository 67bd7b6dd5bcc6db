// pnpm hooks for the workspace.
//
// Every public package has @minibatch/tensor as a peer dependency. In the sources the range is
// "workspace:>=0.1.0", which any new version satisfies, so that `changeset version` does not turn a
// minor bump of tensor into a major bump of every dependent (its rule for peers out of range). The
// packages are versioned as one fixed group, so what we publish pins the peer to the same release
// line: this hook rewrites the range to `^<version>` in the package.json that goes into the tarball
// (`pnpm pack`, `pnpm publish`, `changeset publish`). scripts/registry-test.mjs checks the result.
module.exports = {
  hooks: {
    beforePacking(pkg) {
      if (pkg.peerDependencies?.["@minibatch/tensor"]) {
        pkg.peerDependencies["@minibatch/tensor"] = `^${pkg.version}`;
      }
      return pkg;
    },
  },
};
