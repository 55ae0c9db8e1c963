// The built-in calibration text: original prose written for QuantLab, free to reuse, and
// deliberately not the lab's evaluation text (src/lib/eval/sample.ts), so a method calibrated
// here is not scored on the text it was fitted to.

/** A short original text (about 3,000 characters) for GPTQ and AWQ calibration. */
export const CALIBRATION_TEXT = `I dreamed of a town built on the back of a sleeping whale. Every house had a chimney made of coral, and the streets were paved with smooth grey stones that were warm to the touch. When the whale breathed, the whole town rose a little and then sank again, and the people had learned to walk in time with it, like sailors on a slow ship.

The baker opened his shop before sunrise. He made bread shaped like moons and stars, and he sold it for stories instead of coins. A child gave him a story about a cat who could read maps, and he gave her a small round loaf that smelled of honey. I gave him a story about a clock that ran backwards, and he laughed and handed me a loaf shaped like a key.

Near the harbour there was a tower with a lamp that never went out. The keeper was a tall man with a coat full of pockets, and in every pocket there was a different kind of weather. He showed me a pocket of snow, a pocket of fog, and a pocket of summer rain. He said that on quiet nights he let a little weather out over the sea, so that the fishermen would have something to talk about in the morning.

I asked him where the whale was going. He said nobody knew, but that it always seemed to be swimming toward the place where the sun came up. Some people in the town believed that one day it would reach the edge of the world and dive, and that the town would float away like a leaf. Others believed it was only dreaming, just as we were, and that it would never wake.

In the afternoon I walked to the highest hill, which was really the whale's great head. The grass there was long and silver, and it moved against the wind instead of with it. A group of old men were flying kites made of letters. Each kite spelled a word when it reached the clouds, and the words drifted apart and turned into birds. I saw the word river become a heron, and the word patience become a small brown owl.

When evening came, the town lit paper lanterns and hung them from the roofs. The light made the water glow green around the whale's sides, and fish came up to look at us with their round, curious eyes. A woman played a violin with no strings, and somehow everyone could hear the music. It sounded like someone remembering a song from very long ago.

I fell asleep on the steps of the lighthouse, holding the loaf shaped like a key. In the dream inside the dream, I used the key to open the whale's heart, and inside there was a quiet room with a single chair and a window looking out at the stars. I sat down in the chair and listened to the slow, deep beat all around me. When I woke up, my hand was still closed, as if I were holding something small and warm.`;
