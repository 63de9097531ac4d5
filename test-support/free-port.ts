/** A TCP port that was free a moment ago (for processes that cannot take port 0 themselves). */
export { freePort } from '../packages/server/src/db/free-port.js'
