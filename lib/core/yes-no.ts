// How every yes/no variable reads (DEBUG, USE_DOCKER, SECCOMP's "no"...):
// empty, no, false and 0, in any case, are off; anything else is on.
export const isOn = (raw: string | undefined): boolean => !['', 'no', 'false', '0'].includes((raw ?? '').toLowerCase());
