// Matching the errors die() throws, for assert.throws and friends.
import { BuildError } from '../../lib/core/log.ts';

/** A BuildError whose message matches `re`. */
export const isBuildError = (re: RegExp) => (e: Error) => e instanceof BuildError && re.test(e.message);
