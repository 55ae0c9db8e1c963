// The built-in calibration text of methods and measurements that need one (layer sensitivity,
// mixed precision): written for QuantLab, free to reuse, and deliberately not the lab's
// evaluation text (sample.ts), so a model is never tuned and judged on the same words.

/** A short original story (about 2,000 characters) for calibration, distinct from SAMPLE_TEXT. */
export const CALIBRATION_TEXT = `Once upon a time there was a little girl named Mia who lived in a small house near the woods. Every morning she went out to feed the birds in her garden. She had a red bucket full of seeds, and the birds knew the sound of her boots on the path. One day a small brown bird did not fly away when she came close. It sat on the fence and looked at her with its bright black eyes.

"Are you hungry?" Mia asked. The bird hopped down and ate the seeds from her hand. Mia was so happy that she laughed out loud. She ran inside to tell her mom. Her mom smiled and said that the bird must trust her very much.

The next day it was raining. Mia put on her yellow coat and went outside with her bucket. The little bird was waiting under the big tree. Its feathers were wet, and it looked cold. Mia made a small house for it out of a box and some soft grass. She put the box under the roof of the shed, where the rain could not reach it. The bird went inside and shook the water from its wings.

Tom, the boy from the farm next door, came to see what she was doing. He had a dog named Max who liked to run and bark. Mia told Tom to keep Max quiet, so the bird would not be scared. Tom held Max close, and together they watched the bird eat. Tom said that he had never seen a bird so friendly. He asked if he could help, and Mia gave him a handful of seeds.

When summer came, the little bird built a nest in the box. Soon there were three tiny eggs in it. Mia and Tom checked on the nest every day, but they never touched it. One warm morning they heard small sounds coming from the box. The eggs had opened, and three baby birds were calling for food. The mother bird flew back and forth all day long.

At the end of the summer the young birds learned to fly. They flew over the garden and the fields, and they always came back to the big tree in the evening. Mia knew that they would leave one day, but she was not sad. She had learned that if you are kind and patient, even a wild bird can become your friend.`;
