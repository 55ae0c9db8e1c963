// The built-in text of the quality lab, written for QuantLab and free to reuse: plain English
// prose, long enough for several windows of 64 tokens on a small tokenizer, with no markup.

/** A short original text (about 2,000 characters) for teacher-forced quality reports. */
export const SAMPLE_TEXT = `Last night I dreamed that I was walking through a library where every book was a small window. When I opened one, I could see a garden, or a kitchen, or a street in the rain, and the people inside looked up and waved at me. The shelves went on for miles, and the light came from somewhere far above, soft and yellow like the light before a storm.

An old woman sat at a wooden table in the middle of the room. She was counting buttons into a glass jar, and each time she dropped one in, a bell rang somewhere in the distance. I asked her what she was counting. She said that every button was a word somebody had forgotten, and that she kept them safe until they were needed again. Then she gave me a blue button and told me to hold it until I woke up.

I walked on and found a staircase made of paper. It folded and unfolded under my feet, but it held my weight. At the top there was a door with no handle. I pressed the blue button against the wood, and the door opened onto a beach at night. The sand was cold and the sea was very calm. Small lights floated on the water like lanterns, and when the waves touched them they made a sound like quiet laughter.

A boy was building a machine out of driftwood and shells. He told me it was a machine for remembering dreams. You put a dream in at one end, he said, and in the morning it comes out the other end as a story. I asked him if it worked. He smiled and said that it worked only if you believed the story was true, even for a moment.

I sat down next to him and watched the lights on the water. After a while the sky began to turn grey, and the lanterns went out one by one. The boy packed his machine into a bag and said goodbye. I looked down at my hand, and the blue button was gone. When I woke up, I remembered every word of the dream, and I wrote it down before it could fade.`;
